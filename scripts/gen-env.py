#!/usr/bin/env python3
"""Generates a large native environment document for benchmarks.

    scripts/gen-env.py OUT.xml [--machines 10000] [--questions 50] [--environments 10]

Every environment has machines/environments machines; each machine sets
every question (about 40 MB with the defaults). Machine i has the address
10.(i // 65536).((i // 256) % 256).(i % 256) with the first octet 10, and
the host name node<i>.env<e>.example.org.
"""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--machines", type=int, default=10000)
parser.add_argument("--questions", type=int, default=50)
parser.add_argument("--environments", type=int, default=10)
args = parser.parse_args()

per_env = max(1, args.machines // args.environments)
with open(args.out, "w") as out:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write('<environments xmlns="urn:confpack:environment:1" version="1">\n  <templates>\n')
    for q in range(args.questions):
        out.write(f'    <template key="bench/q{q}" type="string" priority="medium" source="configured">'
                  f'<description>Question {q}</description><default>d{q}</default></template>\n')
    out.write('    <template key="bench/iplist" type="string" source="derived"><description>IPs</description>'
              '<expression>environment.machines | map(attribute="ip") | join(" ")</expression></template>\n')
    out.write("  </templates>\n")
    machine = 0
    for e in range(args.environments):
        out.write(f'  <environment context="env{e}">\n')
        for _ in range(per_env):
            ip = f"10.{machine // 65536}.{(machine // 256) % 256}.{machine % 256}"
            out.write(f'    <machine ip="{ip}" hostname="node{machine}.env{e}.example.org">\n')
            for q in range(args.questions):
                out.write(f'      <question key="bench/q{q}">value-{machine}-{q}-abcdefghij</question>\n')
            out.write("    </machine>\n")
            machine += 1
        out.write("  </environment>\n")
    out.write("</environments>\n")
