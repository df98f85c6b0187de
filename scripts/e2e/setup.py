#!/usr/bin/env python3
"""Files for scripts/e2e.sh, made from the shipped example (config.example.toml and its zone).

    setup.py node-config EXAMPLE OUT --zone FILE --node NAME --dns ADDR:PORT --admin ADDR:PORT
                         --state FILE --etcd URL --prefix P --region R --interval D --timeout D
                         --rise N --fall N --ttl S
        EXAMPLE with this node's addresses, state file, faster health checks, every service's
        TTL set to S, every relative path made absolute, and a [cluster] section.
    setup.py zone EXAMPLE_ZONE OUT NS1_ADDR NS2_ADDR
        the example's zone with the in-zone name server addresses (ns1, ns2) replaced by the
        nodes' loopback addresses, so that a resolver never learns an address off this machine.
    setup.py pools CONFIG
        one line `POOL ADDRESS` for each IPv4 address of each pool's endpoints.
"""

import argparse
import json
import os
import re
import sys
import tomllib

BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(k):
    return k if BARE.match(k) else json.dumps(k)


def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def dump(doc):
    """TOML for a document whose top level holds tables and arrays of tables (deeper levels are
    written inline)."""
    out = []
    for name, v in doc.items():
        if isinstance(v, dict):
            out.append(f"[{key(name)}]")
            out += [f"{key(k)} = {value(x)}" for k, x in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for t in v:
                out.append(f"[[{key(name)}]]")
                out += [f"{key(k)} = {value(x)}" for k, x in t.items()]
        else:
            out.append(f"{key(name)} = {value(v)}")
        out.append("")
    return "\n".join(out)


def node_config(a):
    with open(a.example, "rb") as f:
        doc = tomllib.load(f)
    base = os.path.dirname(os.path.abspath(a.example))

    def absolute(p):
        return p if os.path.isabs(p) else os.path.join(base, p)

    doc.setdefault("server", {})["listen"] = [a.dns]
    doc.setdefault("log", {})["format"] = "text"
    zones = doc.get("zone", [])
    if len(zones) != 1:
        sys.exit(f"{a.example}: expected one [[zone]], found {len(zones)}")
    zones[0]["file"] = os.path.abspath(a.zone)
    zones[0]["allow_transfer"] = ["127.0.0.0/8"]
    geo = doc.get("geoip", {})
    if "databases" in geo:
        geo["databases"] = [absolute(p) for p in geo["databases"]]
    health = doc.setdefault("health", {})
    health.update(
        interval=a.interval,
        timeout=a.timeout,
        rise=a.rise,
        fall=a.fall,
        state_file=os.path.abspath(a.state),
    )
    admin = doc.setdefault("admin", {})
    admin["listen"] = a.admin
    if "tokens_file" in admin:
        admin["tokens_file"] = absolute(admin["tokens_file"])
    for svc in doc.get("service", []):
        svc["ttl"] = a.ttl
    doc["cluster"] = {
        "node": a.node,
        "etcd": [a.etcd],
        "prefix": a.prefix,
        "region": a.region,
    }
    with open(a.out, "w") as f:
        f.write(f"# scripts/e2e.sh: node {a.node}, made from {a.example}\n\n" + dump(doc))


def zone(a):
    with open(a.example) as f:
        text = f.read()
    out, seen, owner = [], set(), None
    for line in text.splitlines():
        m = re.match(r"^(\S+)?\s+(?:\d+\s+)?(?:IN\s+)?(A|AAAA)\s+\S+", line)
        if line and not line[0].isspace() and not line.startswith(";"):
            owner = line.split()[0]
        if m and owner in ("ns1", "ns2"):
            if m.group(2) == "A" and owner not in seen:
                seen.add(owner)
                out.append(f"{owner}\tIN A\t{a.ns1 if owner == 'ns1' else a.ns2}")
            continue  # other addresses of ns1/ns2 (off this machine) are dropped
        out.append(line)
    if seen != {"ns1", "ns2"}:
        sys.exit(f"{a.example}: no A records for ns1 and ns2 found to replace")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


def pools(a):
    with open(a.config, "rb") as f:
        doc = tomllib.load(f)
    for pool in doc.get("pool", []):
        for ep in pool.get("endpoint", []):
            for addr in ep.get("addresses", []):
                if ":" not in addr:
                    print(pool["name"], addr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("node-config")
    n.add_argument("example")
    n.add_argument("out")
    for opt in ("zone", "node", "dns", "admin", "state", "etcd", "prefix", "region", "interval",
                "timeout"):
        n.add_argument("--" + opt, required=True)
    for opt in ("rise", "fall", "ttl"):
        n.add_argument("--" + opt, required=True, type=int)
    z = sub.add_parser("zone")
    z.add_argument("example")
    z.add_argument("out")
    z.add_argument("ns1")
    z.add_argument("ns2")
    q = sub.add_parser("pools")
    q.add_argument("config")
    a = p.parse_args()
    {"node-config": node_config, "zone": zone, "pools": pools}[a.cmd](a)


if __name__ == "__main__":
    main()
