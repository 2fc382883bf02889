"""Client overhead: MobsetClient vs a bare requests loop, against the same in-process simulator.

2,000 get_balance and 2,000 single-number send calls through MobsetClient, timed side by side
(interleaved rounds, same run) with a bare ``requests.Session().post`` loop that sends the same
signed form to the same simulator and does nothing with the answer but read it. Both sessions
have ``trust_env`` off (the client's setting), so the ratio client/bare is the client's own
overhead (signing, parsing, typed answers, error mapping).
Target: ≤ 1.3.

    .venv/bin/python benchmarks/bench_client.py [--n 2000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import requests

from mobset_campaign import _protocol
from mobset_campaign.simulator import Account, Simulator

RESULTS = Path(__file__).with_name("results")


def _bare_loop(sim: Simulator, method: str, n: int, phones: list[str]) -> float:
    session = requests.Session()
    # like with like: the client turns off requests' per-call lookup of proxy and netrc
    # settings in the environment, which alone costs more than the client's own work
    session.trust_env = False
    acc = sim.account
    started = time.perf_counter()
    for i in range(n):
        stamp = _protocol.format_timestamp()
        data = {
            "CorpID": str(acc.corp_id),
            "LoginName": acc.login_name,
            "TimeStamp": stamp,
            "SecretKey": _protocol.secret_key(acc.corp_id, acc.password, stamp),
            "Methods": method,
        }
        if method == "SmsSend":
            data["PhoneNumbers"] = phones[i]
            data["Content"] = "基准测试短信"
        session.post(sim.url, data=data, timeout=(10, 60)).content  # noqa: B018
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def _client_loop(sim: Simulator, method: str, n: int, phones: list[str]) -> float:
    client = sim.client()
    call: Callable[[int], object]
    if method == "SmsSend":
        call = lambda i: client.send([phones[i]], "基准测试短信")  # noqa: E731
    else:
        call = lambda i: client.get_balance()  # noqa: E731
    started = time.perf_counter()
    for i in range(n):
        call(i)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per method and side")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (n split across)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (200 calls)")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default results/)")
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.n
    rounds = max(1, args.rounds)
    per_round = max(1, n // rounds)
    results: dict[str, object] = {
        "benchmark": "client",
        "calls_per_method_per_side": per_round * rounds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "bare_session_trust_env": False,
    }
    account = Account(
        corp_id=300003, login_name="bench", password="bench-pw", balance=10**9, daily_limit=None
    )
    with Simulator(
        accounts=[account], seed=1, report_delay=(3600.0, 3600.0), reply_rate=0.0
    ) as sim:
        # warm up both paths (connection set-up, imports)
        _bare_loop(sim, "SmsGetBalance", 20, [])
        _client_loop(sim, "SmsGetBalance", 20, [])
        for method in ("SmsGetBalance", "SmsSend"):
            bare = client = 0.0
            counter = 0
            for r in range(rounds):
                phones = [f"135{(counter + i) % 10**8:08d}" for i in range(per_round)]
                counter += per_round
                # alternate which side goes first, so drift in the machine's load cancels out
                if r % 2 == 0:
                    bare += _bare_loop(sim, method, per_round, phones)
                    client += _client_loop(sim, method, per_round, phones)
                else:
                    client += _client_loop(sim, method, per_round, phones)
                    bare += _bare_loop(sim, method, per_round, phones)
            total = per_round * rounds
            results[method] = {
                "bare_seconds": round(bare, 4),
                "client_seconds": round(client, 4),
                "bare_requests_per_s": round(total / bare, 1),
                "client_requests_per_s": round(total / client, 1),
                "ratio_client_over_bare": round(client / bare, 3),
                "target_ratio_at_most": 1.3,
            }
    for method in ("SmsGetBalance", "SmsSend"):
        r = results[method]
        assert isinstance(r, dict)
        print(
            f"{method:14s} bare {r['bare_requests_per_s']:8.1f} req/s   client {r['client_requests_per_s']:8.1f} req/s"
            f"   ratio {r['ratio_client_over_bare']:.3f} (target ≤ 1.3)"
        )
    output = args.output or RESULTS / ("client_quick.json" if args.quick else "client.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return results


if __name__ == "__main__":
    main()
