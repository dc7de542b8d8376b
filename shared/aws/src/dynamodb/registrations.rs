//! Registrations, deliveries and attempts on the table.

use super::*;

impl RegistrationStore for DynamoStore {
    async fn create_registration(
        &self,
        r: &Registration,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let mut reg_item = doc_item(registration_pk(&r.id), "REG".into(), r);
        reg_item.insert("expires_at".into(), n(r.expires_at));
        let mut tx = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(reg_item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(backend("create_registration"))?,
                )
                .build(),
        );
        if let Some(subject) = subject_item(r) {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(subject))
                            .build()
                            .map_err(backend("create_registration"))?,
                    )
                    .build(),
            );
        }
        // A transaction holds at most 100 items; a campaign's integrations are far fewer.
        for d in deliveries.iter().take(98) {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(delivery_item(d, r.expires_at)))
                            .build()
                            .map_err(backend("create_registration"))?,
                    )
                    .build(),
            );
        }
        match tx.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_transaction_condition_failure(&e) => Ok(false),
            Err(e) if is_transaction_contention(&e) => Err(StoreError::Unavailable {
                operation: "create_registration",
                source: Box::new(e),
            }),
            Err(e) => Err(backend("create_registration")(e)),
        }
    }

    async fn delete_registration(&self, r: &Registration) -> Result<(), StoreError> {
        let mut items = self
            .query_prefix(registration_pk(&r.id), None, "delete_registration")
            .await?;
        items.extend(subject_item(r));
        for item in items {
            let (Some(pk), Some(sk)) = (get_s(&item, "pk"), get_s(&item, "sk")) else {
                continue;
            };
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.to_owned(), sk.to_owned())))
                .send()
                .await
                .map_err(backend("delete_registration"))?;
        }
        Ok(())
    }

    async fn registration(&self, id: &RegistrationId) -> Result<Option<Registration>, StoreError> {
        self.get_doc(registration_pk(id), "REG".into(), "registration")
            .await
    }

    async fn delivery(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get_doc(registration_pk(r), delivery_sk(i), "delivery")
            .await
    }

    async fn registration_log(
        &self,
        id: &RegistrationId,
    ) -> Result<Option<RegistrationLog>, StoreError> {
        let items = self
            .query_prefix(registration_pk(id), None, "registration_log")
            .await?;
        let mut registration = None;
        let mut deliveries = Vec::new();
        let mut attempts = Vec::new();
        for item in &items {
            let sk = get_s(item, "sk").unwrap_or_default();
            if sk == "REG" {
                registration = Some(read_doc::<Registration>(item)?);
            } else if sk.contains("#ATT#") {
                if get_s(item, "slot") == Some("done") {
                    attempts.push(read_doc::<Attempt>(item)?);
                }
            } else if sk.starts_with("DLV#") {
                deliveries.push(read_doc::<Delivery>(item)?);
            }
        }
        Ok(registration.map(|registration| RegistrationLog {
            registration,
            deliveries,
            attempts,
        }))
    }

    async fn claim_attempt(
        &self,
        r: &Registration,
        integration: &IntegrationId,
        number: u32,
        lease_until: u64,
        now: u64,
    ) -> Result<AttemptClaim, StoreError> {
        let pk = registration_pk(&r.id);
        let sk = attempt_sk(integration, number);
        // This call's own token: when the write is applied but its answer lost (a 500 or
        // a dropped connection after DynamoDB wrote it), the SDK's retry of the same
        // request finds its own claim and succeeds, instead of seeing a live claim of
        // "another worker" and, after the lease, an outcome unknown for an attempt that
        // was never sent.
        let me = leadrelay::deliver::limit::holder();
        let claim = HashMap::from([
            ("pk".to_owned(), s(pk.clone())),
            ("sk".to_owned(), s(sk.clone())),
            ("slot".to_owned(), s("claimed")),
            ("holder".to_owned(), s(me.clone())),
            ("lease_until".to_owned(), n(lease_until)),
            ("expires_at".to_owned(), n(r.expires_at)),
        ]);
        // The old item comes back when an expired claim is taken over: its holder may
        // have sent the attempt.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim))
            .condition_expression(
                "attribute_not_exists(pk) OR (slot = :claimed AND (lease_until < :now OR holder = :me))",
            )
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(me.clone()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                if old.contains_key("erased") {
                    // Keep the erasure's mark on the new claim.
                    self.mark_claim_erased(&r.id, integration, number).await?;
                }
                // Nothing before, or this call's own write repeated by a retry.
                let own = old.is_empty() || get_s(&old, "holder") == Some(me.as_str());
                return Ok(if own {
                    AttemptClaim::Claimed
                } else {
                    AttemptClaim::TakenOver
                });
            }
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(backend("claim_attempt")(e)),
        }
        match self.get(pk, sk, "claim_attempt").await? {
            Some(item) if get_s(&item, "slot") == Some("done") => {
                Ok(AttemptClaim::Done(Box::new(read_doc(&item)?)))
            }
            _ => Ok(AttemptClaim::InProgress),
        }
    }

    async fn record_attempt(&self, a: &Attempt, expires_at: u64) -> Result<Recorded, StoreError> {
        let pk = registration_pk(&a.registration_id);
        let sk = attempt_sk(&a.integration_id, a.number);
        let mut item = doc_item(pk.clone(), sk.clone(), a);
        item.insert("slot".into(), s("done"));
        item.insert("expires_at".into(), n(expires_at));
        // Not over a recorded attempt (an earlier run of the same job), and not over a
        // claim an erasure reached while the attempt was in flight.
        if self
            .put_if(
                item,
                "attribute_not_exists(pk) OR (slot <> :done AND attribute_not_exists(erased))",
                &[(":done", s("done"))],
                "record_attempt",
            )
            .await?
        {
            return Ok(Recorded::Written);
        }
        Ok(match self.get(pk, sk, "record_attempt").await? {
            Some(item) if get_s(&item, "slot") != Some("done") && item.contains_key("erased") => {
                Recorded::Erased
            }
            _ => Recorded::AlreadyRecorded,
        })
    }

    async fn update_delivery(&self, d: &Delivery, expires_at: u64) -> Result<(), StoreError> {
        // A failed condition means a later attempt is recorded already, or the delivery
        // was erased (final).
        self.put_if(
            delivery_item(d, expires_at),
            "attribute_not_exists(pk) OR (attempts <= :n AND delivery_state <> :erased)",
            &[
                (":n", n(u64::from(d.attempts))),
                (":erased", s(DeliveryState::Erased.as_str())),
            ],
            "update_delivery",
        )
        .await
        .map(drop)
    }

    async fn note_waiting(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
        attempt: u32,
        note: &WaitNote,
    ) -> Result<bool, StoreError> {
        const OP: &str = "note_waiting";
        // Lost only to another write of the same delivery: read it again, a few times.
        for _ in 0..3 {
            let Some(item) = self.get(registration_pk(r), delivery_sk(i), OP).await? else {
                return Ok(false);
            };
            let mut d: Delivery = read_doc(&item)?;
            if !may_note_waiting(&d, attempt) {
                return Ok(false);
            }
            let old = get_s(&item, "doc").unwrap_or_default().to_owned();
            d.waiting = Some(note.clone());
            let new = serde_json::to_string(&d).expect("domain types serialize to JSON");
            // Only the document changes, and only from the one read: the state, the
            // attempts and the index attributes (a due time the reconciler moved) stay.
            if self
                .update_if(
                    key(registration_pk(r), delivery_sk(i)),
                    "SET doc = :new",
                    Some("doc = :old AND delivery_state IN (:pending, :retrying) AND attempts < :attempt"),
                    &[
                        (":new", s(new)),
                        (":old", s(old)),
                        (":pending", s(DeliveryState::Pending.as_str())),
                        (":retrying", s(DeliveryState::Retrying.as_str())),
                        (":attempt", n(u64::from(attempt))),
                    ],
                    OP,
                )
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn paused_deliveries(
        &self,
        integration: &IntegrationId,
        after: Option<&RegistrationId>,
        limit: usize,
    ) -> Result<Vec<(RegistrationId, IntegrationId)>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .expression_attribute_values(":p", s(format!("PAUSED#{integration}")))
            .limit(limit.clamp(1, 1000) as i32);
        query = match after {
            Some(after) => query
                .key_condition_expression("gsi2pk = :p AND gsi2sk > :after")
                .expression_attribute_values(":after", s(after.to_string())),
            None => query.key_condition_expression("gsi2pk = :p"),
        };
        let out = query.send().await.map_err(backend("paused_deliveries"))?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| get_s(item, "gsi2sk")?.parse().ok())
            .map(|r| (r, integration.clone()))
            .collect())
    }

    async fn unpause_delivery(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
        state: DeliveryState,
    ) -> Result<(), StoreError> {
        let Some(item) = self
            .get(registration_pk(r), delivery_sk(i), "unpause_delivery")
            .await?
        else {
            return Ok(());
        };
        let mut d: Delivery = read_doc(&item)?;
        if d.state != DeliveryState::Paused {
            return Ok(());
        }
        d.state = state;
        d.updated_at = leadrelay::clock::now_ms();
        let expires_at = get_n(&item, "expires_at").unwrap_or(0);
        // A failed condition means it moved on meanwhile: nothing to take out.
        self.put_if(
            delivery_item(&d, expires_at),
            "delivery_state = :paused AND attempts = :n",
            &[
                (":paused", s(DeliveryState::Paused.as_str())),
                (":n", n(u64::from(d.attempts))),
            ],
            "unpause_delivery",
        )
        .await
        .map(drop)
    }

    async fn reschedule_waiting(&self, seen: &Waiting, due_ms: u64) -> Result<bool, StoreError> {
        self.update_if(
            key(
                registration_pk(&seen.registration_id),
                delivery_sk(&seen.integration_id),
            ),
            "SET gsi3sk = :new",
            Some("gsi3sk = :old"),
            &[
                (
                    ":old",
                    s(gsi3_sort_key(
                        seen.due_ms,
                        &seen.registration_id,
                        &seen.integration_id,
                    )),
                ),
                (
                    ":new",
                    s(gsi3_sort_key(
                        due_ms,
                        &seen.registration_id,
                        &seen.integration_id,
                    )),
                ),
            ],
            "reschedule_waiting",
        )
        .await
    }

    async fn delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(
                subject_pk(account, subject),
                order_sk(integration),
                "delivered_order",
            )
            .await?
            .and_then(|item| get_n(&item, "newest")))
    }

    async fn advance_delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
        received_at: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.update_if(
            key(subject_pk(account, subject), order_sk(integration)),
            "SET newest = :t, expires_at = :e",
            Some("attribute_not_exists(newest) OR newest < :t"),
            &[(":t", n(received_at)), (":e", n(expires_at))],
            "advance_delivered_order",
        )
        .await
    }
}
