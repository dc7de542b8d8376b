//! The ledger: every 202, where it ended, and what each receiver got.

use crate::driver::Scenario;
use futures::StreamExt;
use leadrelay::ids::RegistrationId;
use leadrelay::model::DeliveryState;
use leadrelay::store::{RegistrationLog, Store};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One acknowledged registration.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its (unique) address.
    pub email: String,
    /// The id the 202 named.
    pub registration_id: String,
    /// Whether it was posted with an `Idempotency-Key`.
    pub keyed: bool,
}

/// What the posting client saw.
#[derive(Debug, Clone, Default)]
pub struct PostStats {
    /// Answers by status (every try).
    pub statuses: BTreeMap<u16, u64>,
    /// Tries that got no answer.
    pub connection_errors: u64,
    /// Registrations that never got a 202.
    pub gave_up: u64,
    /// Latency of each 202, in ms.
    pub latencies_ms: Vec<f64>,
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Whose registration (lower case).
    pub email: String,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Its `webhook-id`, for webhooks.
    pub key: Option<String>,
}

/// What every receiver got, by integration.
#[derive(Debug, Default)]
pub struct Receivers {
    by_integration: BTreeMap<String, (String, Vec<Arrival>, Vec<Instant>)>,
}

/// Seconds over which a burst's rate is counted. At the run's rates (2–4 a second) a
/// one-second count swings between 0 and twice the mean by chance alone (delivery times
/// vary by hundreds of milliseconds); five seconds still shows a backlog released at
/// once, which arrives within a second or two.
pub const BURST_WINDOW_S: u64 = 5;

/// The retry burst at one receiver after its trouble ended.
#[derive(Debug, Clone)]
pub struct Burst {
    /// The receiver.
    pub receiver: String,
    /// The mean rate of work for it: registrations acknowledged per second of posting
    /// (each one is delivered to every receiver once).
    pub mean: f64,
    /// The busiest [`BURST_WINDOW_S`] seconds after the trouble, per second.
    pub peak: f64,
    /// How long the trouble lasted.
    pub trouble: Duration,
}

impl Burst {
    /// Peak over mean.
    pub fn ratio(&self) -> f64 {
        if self.mean > 0.0 {
            self.peak / self.mean
        } else {
            f64::INFINITY
        }
    }
}

impl Receivers {
    /// Adds a receiver's requests: what reached it, and when each reached its gate.
    pub fn add(
        &mut self,
        integration: String,
        label: &str,
        arrivals: Vec<Arrival>,
        gate: Vec<Instant>,
    ) {
        self.by_integration
            .insert(integration, (label.to_owned(), arrivals, gate));
    }

    /// The busiest [`BURST_WINDOW_S`] seconds at `label`'s gate from `to` (the end of
    /// its trouble, which began at `from`) on, beside the mean rate of work `mean`.
    pub fn burst(&self, label: &str, mean: f64, from: Instant, to: Instant) -> Burst {
        let mut after: Vec<Instant> = self
            .by_integration
            .values()
            .find(|(l, _, _)| l == label)
            .map(|(_, _, g)| g.iter().copied().filter(|t| *t >= to).collect())
            .unwrap_or_default();
        after.sort();
        let window = Duration::from_secs(BURST_WINDOW_S);
        // Each window starts at an arrival: the busiest one starts at one.
        let most = (0..after.len())
            .map(|i| {
                after[i..]
                    .iter()
                    .take_while(|t| **t < after[i] + window)
                    .count()
            })
            .max()
            .unwrap_or(0);
        Burst {
            receiver: label.to_owned(),
            mean,
            peak: most as f64 / BURST_WINDOW_S as f64,
            trouble: to.saturating_duration_since(from),
        }
    }
}

/// Everything one scenario measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Seconds the posting ran (first request to last).
    pub load_secs: f64,
    /// What the client saw.
    pub posts: PostStats,
    /// From the end of the load until the queue was empty.
    pub drain: Option<Duration>,
    /// Acknowledged registrations.
    pub acked: usize,
    /// Deliveries of acknowledged registrations, by how they ended.
    pub delivered: usize,
    /// Failed or exhausted, with an explanation.
    pub failed_explained: usize,
    /// Failed with no explanation.
    pub failed_unexplained: usize,
    /// Not ended, the queue not empty.
    pub queued: usize,
    /// Paused (waiting for the customer).
    pub paused: usize,
    /// Not ended with nothing left on the queue, or the registration gone.
    pub lost: usize,
    /// Stored registrations never acknowledged.
    pub unacked: usize,
    /// Their deliveries pending with nothing queued.
    pub unacked_stranded: usize,
    /// Their deliveries that were sent anyway.
    pub unacked_sent: usize,
    /// Requests a receiver got beyond one per recorded attempt (a repeated send).
    pub duplicate_sends: usize,
    /// Requests a receiver got that no recorded attempt covers.
    pub unrecorded_sends: usize,
    /// Of the duplicates, how many carried the same `webhook-id` / upsert key as an earlier one.
    pub duplicate_same_key: usize,
    /// People sent twice to one receiver through two registrations.
    pub duplicate_people: usize,
    /// Messages in the dead-letter queue.
    pub dlq: usize,
    /// Messages left on the queue at the end.
    pub queue_left: usize,
    /// Kills: (deliver, ingest).
    pub kills: (u32, u32),
    /// AWS calls, throttled, 500, timed out, failed after the write, dropped because
    /// the emulator was saturated.
    pub aws_faults: [u64; 6],
    /// Retry bursts after each receiver's trouble.
    pub bursts: Vec<Burst>,
    /// What failed, with examples.
    pub failures: Vec<String>,
    /// Wall time of the scenario.
    pub wall: Duration,
}

fn terminal_ok(state: DeliveryState) -> bool {
    matches!(state, DeliveryState::Delivered | DeliveryState::Skipped)
}

async fn logs<S: Store>(store: &S, ids: Vec<String>) -> Vec<(String, Option<RegistrationLog>)> {
    futures::stream::iter(ids)
        .map(|id| async move {
            let log = match id.parse::<RegistrationId>() {
                Ok(rid) => {
                    let mut log = None;
                    for _ in 0..5 {
                        match store.registration_log(&rid).await {
                            Ok(l) => {
                                log = l;
                                break;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                        }
                    }
                    log
                }
                Err(_) => None,
            };
            (id, log)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Checks the ledger against the table and the receivers.
pub async fn check<S: Store>(
    store: &S,
    scenario: &Scenario,
    entries: &[Entry],
    stored: &[String],
    receivers: &Receivers,
    queue_left: usize,
    dlq: Vec<String>,
) -> Figures {
    let mut f = Figures {
        acked: entries.len(),
        queue_left,
        dlq: dlq.len(),
        ..Figures::default()
    };
    let acked: HashMap<&str, &Entry> = entries
        .iter()
        .map(|e| (e.registration_id.as_str(), e))
        .collect();
    let unacked: Vec<String> = stored
        .iter()
        .filter(|id| !acked.contains_key(id.as_str()))
        .cloned()
        .collect();
    f.unacked = unacked.len();
    let mut examples: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut note = |kind: &'static str, text: String| {
        let v = examples.entry(kind).or_default();
        if v.len() < 4 {
            v.push(text);
        }
    };

    let acked_logs = logs(
        store,
        entries.iter().map(|e| e.registration_id.clone()).collect(),
    )
    .await;
    let unacked_logs = logs(store, unacked).await;
    // (integration, email) -> attempts sent: (registration, number, from, to, delivered)
    type Sent = (String, u32, u64, u64, bool);
    let mut sent: HashMap<(String, String), Vec<Sent>> = HashMap::new();
    for (acked_one, list) in [(true, &acked_logs), (false, &unacked_logs)] {
        for (id, log) in list {
            let Some(log) = log else {
                if acked_one {
                    f.lost += 1;
                    let e = acked.get(id.as_str());
                    note(
                        "registration gone",
                        format!(
                            "{id} ({}, {})",
                            e.map_or("", |e| e.email.as_str()),
                            if e.is_some_and(|e| e.keyed) {
                                "with Idempotency-Key"
                            } else {
                                "no Idempotency-Key"
                            }
                        ),
                    );
                }
                continue;
            };
            let email = log
                .registration
                .data
                .email
                .clone()
                .unwrap_or_default()
                .to_lowercase();
            for a in &log.attempts {
                if a.request.is_some() {
                    sent.entry((a.integration_id.to_string(), email.clone()))
                        .or_default()
                        .push((
                            id.clone(),
                            a.number,
                            a.started_at,
                            a.started_at + a.duration_ms,
                            a.delivery_state == DeliveryState::Delivered,
                        ));
                }
            }
            for d in &log.deliveries {
                let state = d.state;
                if !acked_one {
                    if matches!(state, DeliveryState::Pending | DeliveryState::Retrying)
                        && queue_left == 0
                    {
                        f.unacked_stranded += 1;
                        note(
                            "registration with no job",
                            format!("{id} → {} {state:?} (never acknowledged)", d.provider),
                        );
                    }
                    if d.attempts > 0 {
                        f.unacked_sent += 1;
                    }
                    continue;
                }
                match state {
                    s if terminal_ok(s) => f.delivered += 1,
                    DeliveryState::Failed | DeliveryState::Exhausted => {
                        let explained = log.attempts.iter().any(|a| {
                            a.integration_id == d.integration_id
                                && a.number == d.attempts
                                && !a.verdict.explanation.trim().is_empty()
                        });
                        if explained {
                            f.failed_explained += 1;
                            note(
                                "failed (explained)",
                                format!(
                                    "{id} → {} {state:?} after {} attempts",
                                    d.provider, d.attempts
                                ),
                            );
                        } else {
                            f.failed_unexplained += 1;
                            note(
                                "failed without explanation",
                                format!("{id} → {}", d.provider),
                            );
                        }
                    }
                    DeliveryState::Paused => {
                        f.paused += 1;
                        note("paused", format!("{id} → {}", d.provider));
                    }
                    DeliveryState::Erased => f.delivered += 1,
                    _ if queue_left > 0 => {
                        f.queued += 1;
                        note("still queued", format!("{id} → {} {state:?}", d.provider));
                    }
                    _ => {
                        f.lost += 1;
                        let keyed = acked.get(id.as_str()).is_some_and(|e| e.keyed);
                        note(
                            "lost (no job)",
                            format!(
                                "{id} → {} {state:?}, {} attempts, nothing queued ({})",
                                d.provider,
                                d.attempts,
                                if keyed {
                                    "with Idempotency-Key"
                                } else {
                                    "no Idempotency-Key"
                                }
                            ),
                        );
                    }
                }
            }
        }
    }

    // Receivers: every request must fall inside exactly one recorded attempt.
    for (integration, (label, arrivals, _)) in &receivers.by_integration {
        let mut by_email: HashMap<&str, Vec<&Arrival>> = HashMap::new();
        for a in arrivals {
            by_email.entry(a.email.as_str()).or_default().push(a);
        }
        for (email, mut list) in by_email {
            list.sort_by_key(|a| a.at_ms);
            let attempts = sent
                .get(&(integration.clone(), email.to_owned()))
                .cloned()
                .unwrap_or_default();
            let registrations_delivered: std::collections::BTreeSet<&String> =
                attempts.iter().filter(|a| a.4).map(|a| &a.0).collect();
            if registrations_delivered.len() > 1 {
                f.duplicate_people += 1;
                note(
                    "same person delivered twice (two registrations)",
                    format!("{label}: {email}: {registrations_delivered:?}"),
                );
            }
            // Each arrival belongs to the recorded attempt whose time covers it; one
            // that none covers was sent without a record (a crash between send and
            // record). Every arrival beyond one per covered attempt (or beyond the
            // first, when none is covered) is a repeated send.
            let mut used = vec![0u32; attempts.len()];
            let mut unrecorded = 0usize;
            for a in &list {
                match attempts
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| a.at_ms + 150 >= s.2 && a.at_ms <= s.3 + 150)
                    .min_by_key(|(i, _)| used[*i])
                    .map(|(i, _)| i)
                {
                    Some(i) => used[i] += 1,
                    None => unrecorded += 1,
                }
            }
            if unrecorded > 0 {
                let windows: Vec<String> = attempts
                    .iter()
                    .map(|s| format!("{}#{} {}..{}", s.0, s.1, s.2, s.3))
                    .collect();
                let times: Vec<u64> = list.iter().map(|a| a.at_ms).collect();
                note(
                    "sent with no attempt covering it",
                    format!("{label}: {email}: requests at {times:?} ms, attempts {windows:?}"),
                );
            }
            let covered = used.iter().filter(|u| **u > 0).count();
            let repeats = list.len().saturating_sub(covered.max(1));
            f.unrecorded_sends += unrecorded;
            if repeats > 0 {
                f.duplicate_sends += repeats;
                let first_key = list[0].key.as_ref();
                if list.iter().all(|a| a.key.as_ref() == first_key) {
                    f.duplicate_same_key += repeats;
                }
                let regs: Vec<String> = attempts
                    .iter()
                    .map(|s| format!("{}#{}", s.0, s.1))
                    .collect();
                let times: Vec<u64> = list.iter().map(|a| a.at_ms).collect();
                note(
                    "sent twice",
                    format!(
                        "{label}: {email}: {} requests at {times:?} ms, {unrecorded} outside any recorded attempt (attempts {regs:?})",
                        list.len()
                    ),
                );
            }
        }
    }

    for body in dlq.iter().take(4) {
        note("in the dead-letter queue", body.chars().take(200).collect());
    }

    // Verdicts.
    let mut fail = |cond: bool, text: String| {
        if cond {
            f.failures.push(text);
        }
    };
    fail(f.lost > 0, format!("{} deliveries lost", f.lost));
    fail(
        f.failed_unexplained > 0,
        format!("{} failures without an explanation", f.failed_unexplained),
    );
    fail(
        f.unacked_stranded > 0,
        format!(
            "{} deliveries of never-acknowledged registrations stranded with no job",
            f.unacked_stranded
        ),
    );
    fail(
        f.dlq > 0,
        format!("{} messages in the dead-letter queue", f.dlq),
    );
    fail(
        f.queued > 0,
        format!(
            "{} deliveries still queued when the drain limit ran out",
            f.queued
        ),
    );
    fail(
        f.duplicate_people > 0,
        format!(
            "{} people sent twice through two registrations",
            f.duplicate_people
        ),
    );
    if scenario.kills > 0 {
        // The goal for crashes: at most 10 duplicates per kill, each with the same key.
        let kills = scenario.kills as usize;
        fail(
            f.duplicate_sends > 10 * kills || f.duplicate_same_key < f.duplicate_sends,
            format!(
                "{} duplicate sends ({} with the same key) for {kills} kills",
                f.duplicate_sends, f.duplicate_same_key
            ),
        );
    } else {
        fail(
            f.duplicate_sends > 0,
            format!("{} duplicate sends", f.duplicate_sends),
        );
    }
    if scenario.provider_faults.is_some() {
        fail(
            f.delivered < f.acked * receivers.by_integration.len(),
            format!(
                "{} of {} deliveries delivered after recovery",
                f.delivered,
                f.acked * receivers.by_integration.len()
            ),
        );
    }
    for (kind, list) in examples {
        for e in list {
            f.failures.push(format!("  e.g. {kind}: {e}"));
        }
    }
    f
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// The table of every scenario's figures, as Markdown.
pub fn table(results: &[(Scenario, Figures)]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&Scenario, &Figures) -> String| {
        rows.push((
            name.to_owned(),
            results.iter().map(|(s, fi)| f(s, fi)).collect(),
        ));
    };
    row("target rate (registrations/s × s)", &|s, _| {
        format!("{} × {}", s.rate, s.secs)
    });
    row("rate held (202/s over the posting time)", &|_, f| {
        format!("{:.1}", f.acked as f64 / f.load_secs.max(0.001))
    });
    row("202 / gave up / other answers / no answer", &|_, f| {
        let other: u64 = f
            .posts
            .statuses
            .iter()
            .filter(|(k, _)| **k != 202)
            .map(|(_, v)| *v)
            .sum();
        let detail: Vec<String> = f
            .posts
            .statuses
            .iter()
            .filter(|(k, _)| **k != 202)
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        format!(
            "{} / {} / {other}{} / {}",
            f.acked,
            f.posts.gave_up,
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", detail.join(" "))
            },
            f.posts.connection_errors
        )
    });
    row("ingest p50 / p99 (ms)", &|_, f| {
        format!(
            "{:.0} / {:.0}",
            pct(&f.posts.latencies_ms, 0.5),
            pct(&f.posts.latencies_ms, 0.99)
        )
    });
    row("backlog drained after load (s)", &|_, f| match f.drain {
        Some(d) => format!("{:.0}", d.as_secs_f64()),
        None => format!("not drained ({} left)", f.queue_left),
    });
    row("deliveries delivered", &|_, f| f.delivered.to_string());
    row("failed, explained / unexplained", &|_, f| {
        format!("{} / {}", f.failed_explained, f.failed_unexplained)
    });
    row("still queued / paused", &|_, f| {
        format!("{} / {}", f.queued, f.paused)
    });
    row("LOST", &|_, f| f.lost.to_string());
    row("duplicate sends (same key)", &|_, f| {
        format!("{} ({})", f.duplicate_sends, f.duplicate_same_key)
    });
    row("sends with no attempt recorded", &|_, f| {
        f.unrecorded_sends.to_string()
    });
    row("people sent twice via 2 registrations", &|_, f| {
        f.duplicate_people.to_string()
    });
    row("unacknowledged stored: regs / stranded / sent", &|_, f| {
        format!(
            "{} / {} / {}",
            f.unacked, f.unacked_stranded, f.unacked_sent
        )
    });
    row("dead-letter queue", &|_, f| f.dlq.to_string());
    row(
        "AWS calls / throttled / 500 / timeout / 500-after-write",
        &|_, f| {
            let a = f.aws_faults;
            if a[1] + a[2] + a[3] + a[4] == 0 {
                format!("{} / -", a[0])
            } else {
                format!("{} / {} / {} / {} / {}", a[0], a[1], a[2], a[3], a[4])
            }
        },
    );
    row("SIGKILLs deliver / ingest", &|_, f| {
        format!("{} / {}", f.kills.0, f.kills.1)
    });
    row("retry burst: busiest 5 s, per s ÷ mean/s", &|_, f| {
        if f.bursts.is_empty() {
            return "-".into();
        }
        f.bursts
            .iter()
            .map(|b| {
                format!(
                    "{} ({:.0} s): {:.1}/{:.1}={:.1}×",
                    b.receiver,
                    b.trouble.as_secs_f64(),
                    b.peak,
                    b.mean,
                    b.ratio()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    row("wall time (s)", &|_, f| {
        format!("{:.0}", f.wall.as_secs_f64())
    });
    row("verdict", &|_, f| {
        if f.failures.iter().all(|l| l.starts_with("  ")) {
            "PASS".into()
        } else {
            "FAIL".into()
        }
    });
    let mut out = String::new();
    out.push_str("| figure |");
    for (s, _) in results {
        out.push_str(&format!(" {} |", s.name));
    }
    out.push_str("\n|---|");
    for _ in results {
        out.push_str("---|");
    }
    out.push('\n');
    for (name, cells) in rows {
        out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    }
    out
}
