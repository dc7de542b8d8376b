#!/usr/bin/env python3
"""What a million registrations cost on AWS, from the calls the code makes for each one.

Counted for one registration accepted by ingest (with an Idempotency-Key) on a campaign
with one integration, and its one successful delivery on the first attempt. Every call
below is read from the code; the item sizes, durations and prices are assumptions,
stated here and printed with the result. Free tiers are ignored.

    bench/cost.py                       the typical figure and the worst case
    bench/cost.py --integrations 3      a campaign sending to three destinations
"""

import argparse
import math

# List prices, us-east-1, as published on the AWS pricing pages in 2025 (after DynamoDB's
# on-demand price cut of 2024-11-01). Not fetched live: check them before you rely on them.
PRICES_AS_OF = "2025, us-east-1 list prices (not re-checked live)"
PRICE = {
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, first 300 M a month, per 512 KB
    "lambda_request": 0.20 / 1e6,
    "lambda_arm64_gb_s": 0.0000133334,  # arm64, first 7.5 B GB-s a month
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "ddb_wru": 0.625 / 1e6,  # on demand, write request unit (1 KB)
    "ddb_rru": 0.125 / 1e6,  # on demand, read request unit (4 KB strongly consistent)
    "kms_request": 0.03 / 1e4,
    "logs_ingest_gb": 0.50,  # CloudWatch Logs, standard class
    "ddb_storage_gb_month": 0.25,
    "kms_key_month": 1.00,
    "secret_month": 0.40,
    "alarm_month": 0.10,
}

# Assumed item sizes (bytes, attribute names included): a sign-up form's registration,
# a delivery, an attempt of a 2xx answer with its verdict and short body excerpt.
SIZE = {
    "registration": 1500,
    "delivery": 700,
    "attempt": 2000,
    "idempotency": 300,
    "attempt_claim": 150,
    "subject": 150,
}


def wru(size):
    """Write request units of one standard write of `size` bytes."""
    return math.ceil(size / 1024)


def rru(size):
    """Read request units of one strongly consistent read (every read here is one)."""
    return math.ceil(size / 4096)


def calls(integrations, batch, cache_hits):
    """Every AWS call for one registration, as (service, what, unit count, code)."""
    n = integrations
    ingest = [
        ("api", "HTTP API request", 1, "POST /v1/campaigns/{id}/registrations"),
        ("lambda_req", "ingest invocation", 1, "functions/ingest"),
        ("rru", "GetItem key by hash", rru(300), "ingest.rs key_by_hash"),
        ("rru", "GetItem campaign", rru(600), "ingest.rs campaign"),
        ("wru", "PutItem idempotency claim", wru(SIZE["idempotency"]), "claim_idempotency"),
        # TransactWriteItems: two WRU per KB per item; gsi1 copies each delivery item.
        ("wru", "TransactWriteItems: registration", 2 * wru(SIZE["registration"]),
         "create_registration"),
        ("wru", "TransactWriteItems: address item (erasure lookup)", 2 * wru(SIZE["subject"]),
         "create_registration subject_item"),
        ("wru", "TransactWriteItems: deliveries", n * 2 * wru(SIZE["delivery"]),
         "create_registration"),
        ("wru", "gsi1 copy of each delivery", n * wru(SIZE["delivery"]), "delivery_item gsi1pk"),
        ("sqs", "SendMessageBatch (10 jobs a request)", math.ceil(n / 10), "queue/sqs.rs send_all"),
        ("wru", "UpdateItem idempotency finished", wru(SIZE["idempotency"]), "finish_idempotency"),
    ]
    deliver = [
        ("sqs", "ReceiveMessage by the event source mapping", n / batch, "DeliverJobs"),
        ("sqs", "DeleteMessageBatch by the mapping", n / batch, "DeliverJobs"),
        ("lambda_req", "deliver invocation", n / batch, "functions/deliver"),
        ("rru", "GetItem registration", n * rru(SIZE["registration"]), "deliver.rs run"),
        ("rru", "GetItem integration", n * rru(600), "deliver.rs run"),
        ("wru", "PutItem attempt claim", n * wru(SIZE["attempt_claim"]), "claim_attempt"),
        ("kms", "Decrypt credentials (cache miss)", n * (1 - cache_hits), "vault.rs open_value"),
        # PutItem is charged on the larger of the old and new item.
        ("wru", "PutItem attempt record", n * wru(SIZE["attempt"]), "record_attempt"),
        ("wru", "PutItem delivery state", n * wru(SIZE["delivery"]), "update_delivery"),
        ("wru", "gsi1 update of the delivery", n * wru(SIZE["delivery"]), "delivery_item gsi1pk"),
    ]
    return ingest, deliver


def gb_seconds(integrations, batch, ingest_ms, deliver_ms):
    """Lambda GB-s for one registration: ingest at 256 MB, deliver at 512 MB per batch."""
    ingest = 0.256 * ingest_ms / 1000
    deliver = integrations / batch * 0.512 * deliver_ms / 1000
    return ingest, deliver


def price_of(kind):
    return {
        "api": PRICE["http_api_request"],
        "lambda_req": PRICE["lambda_request"],
        "rru": PRICE["ddb_rru"],
        "wru": PRICE["ddb_wru"],
        "sqs": PRICE["sqs_request"],
        "kms": PRICE["kms_request"],
    }[kind]


SERVICE = {
    "api": "API Gateway HTTP API",
    "lambda_req": "Lambda requests",
    "gb_s": "Lambda arm64 duration",
    "rru": "DynamoDB reads (RRU)",
    "wru": "DynamoDB writes (WRU)",
    "sqs": "SQS requests",
    "kms": "KMS requests",
}


def per_million(args, batch, cache_hits):
    """Cost per million registrations by service, and the units behind it."""
    ingest, deliver = calls(args.integrations, batch, cache_hits)
    units, cost = {}, {}
    for kind, _, count, _ in ingest + deliver:
        units[kind] = units.get(kind, 0) + count
        cost[kind] = cost.get(kind, 0) + count * price_of(kind) * 1e6
    gi, gd = gb_seconds(args.integrations, batch, args.ingest_ms, args.deliver_ms)
    units["gb_s"] = gi + gd
    cost["gb_s"] = (gi + gd) * PRICE["lambda_arm64_gb_s"] * 1e6
    return units, cost


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--integrations", type=int, default=1, help="destinations per campaign")
    p.add_argument("--batch", type=float, default=10,
                   help="average SQS batch the mapping hands deliver (10 = full batches)")
    p.add_argument("--ingest-ms", type=float, default=60, help="billed ms per ingest call")
    p.add_argument("--deliver-ms", type=float, default=300,
                   help="billed ms per deliver invocation (a provider answering in ~250 ms)")
    args = p.parse_args()

    ingest, deliver = calls(args.integrations, args.batch, 1.0)
    print(f"AWS calls for one registration ({args.integrations} integration(s), "
          f"SQS batches of {args.batch:g}):")
    for title, rows in (("ingest", ingest), ("deliver, one successful attempt", deliver)):
        print(f"  {title}:")
        for kind, what, count, where in rows:
            if count:
                print(f"    {count:6.2f} {SERVICE[kind]:<22} {what}  [{where}]")

    typical_units, typical = per_million(args, args.batch, 1.0)
    _, worst = per_million(args, 1, 0.0)
    print()
    print(f"Per million registrations, prices of {PRICES_AS_OF}:")
    print("| service                | units per registration | typical $ | worst $ |")
    print("|------------------------|-----------------------:|----------:|--------:|")
    for kind in ["api", "lambda_req", "gb_s", "rru", "wru", "sqs", "kms"]:
        unit = "GB-s" if kind == "gb_s" else ""
        print(f"| {SERVICE[kind]:<22} | {typical_units[kind]:17.4f} {unit:<4} | "
              f"{typical[kind]:9.2f} | {worst[kind]:7.2f} |")
    print(f"| {'total':<22} | {'':>22} | {sum(typical.values()):9.2f} | "
          f"{sum(worst.values()):7.2f} |")
    print()
    print("typical: full batches of 10, opened credentials served from deliver's 5-minute")
    print("cache. worst: every batch holds one message (low traffic) and every delivery")
    print("opens its credentials with KMS. Ingest {:.0f} ms at 256 MB; deliver {:.0f} ms per"
          .format(args.ingest_ms, args.deliver_ms))
    print("invocation at 512 MB. Item sizes in bytes: "
          + ", ".join(f"{k} {v}" for k, v in SIZE.items()) + ".")

    logs_gb = 1.4e-6 * 1e6  # ~1.4 KB of log lines per registration (app + platform + access)
    storage_gb = (SIZE["registration"] + 2 * args.integrations * SIZE["delivery"]
                  + args.integrations * SIZE["attempt"]) / 1e9 * 1e6
    print()
    print("Not per request, or outside the list above:")
    print(f"  CloudWatch Logs ingestion  ~{logs_gb:.1f} GB per million: "
          f"${logs_gb * PRICE['logs_ingest_gb']:.2f}")
    print(f"  DynamoDB storage           ~{storage_gb:.1f} GB per million kept a month: "
          f"${storage_gb * PRICE['ddb_storage_gb_month']:.2f} (PITR adds $0.20/GB-month)")
    sqs_kms = 2_592_000 / 300 * (2 * 4 + 1)  # SQS docs: B/D x (2P + C), P=4 senders, C=1
    fixed = (2 * PRICE["kms_key_month"] + PRICE["secret_month"] + 4 * PRICE["alarm_month"]
             + sqs_kms * PRICE["kms_request"])
    print(f"  Fixed a month              ${fixed:.2f}: two KMS keys, the cursor secret, four"
          f" alarms, SQS data-key requests (~{sqs_kms:,.0f});")
    print("  DynamoDB keeps the table's data key cached, so it adds no KMS request per item.")


if __name__ == "__main__":
    main()
