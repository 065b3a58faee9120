"""Benchmark: reference stacks broken the way an engineer might break them must fail the game day on
localcloud, each with a first failure line that names the cause.

Each mutation edits one reference file (a regular expression that must match exactly once) in a copy of
the project, then runs the front door there: `gameday run --backend local --profile fast --stack S`. A
mutation is *caught* when the run does not exit 0 and its first `gameday run: FAILED|ERROR|NOT RUN` line
matches the cause the mutation should be named by. Writes benchmarks/results/mutations.json.

    python -m benchmarks.mutations [NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
COPIED = ("gameday", "localcloud", "fixtures", "scenarios", "stacks", "loadtest", "conftest.py", "pytest.ini",
          "gameday.toml", "pyproject.toml")
RUN_TIMEOUT_S = 600.0
FIRST_LINE = re.compile(r"^gameday run: (FAILED|ERROR|NOT RUN) (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Mutation:
    name: str
    stack: str
    path: str  # relative to the project
    pattern: str  # must match exactly once
    replacement: str
    cause: str  # regular expression the first failure line must match
    what: str  # the mistake, in words
    only: str = ""  # play only the scenarios matching this -k expression (the one that must catch it)


EIP = "stacks/eip-self-healing/template.yaml"
SPOT = "stacks/spot-vpc-origin/template.yaml"
FARGATE = "stacks/dns-failover-fargate/template.yaml"
ORIGIN = "stacks/origin-group/template.yaml"
STATIC = "stacks/static-ip-haproxy/template.yaml"

MUTATIONS = (
    Mutation("eip-policy-action-short", "eip-self-healing", EIP,
             r"(- Effect: Allow\n\s+Action: )ec2:AssociateAddress(\n\s+Resource: !Sub \"[^\"]*:elastic-ip/)",
             r"\1ec2:DisassociateAddress\2",
             r"UnauthorizedOperation.*ec2:AssociateAddress",
             "the instance role's policy allows DisassociateAddress instead of AssociateAddress on the address"),
    Mutation("eip-policy-wrong-allocation", "eip-self-healing", EIP,
             r":elastic-ip/\$\{ElasticIp\.AllocationId\}", ":elastic-ip/eipalloc-0123456789abcdef0",
             r"UnauthorizedOperation.*ec2:AssociateAddress",
             "the policy is scoped to another allocation id"),
    Mutation("eip-policy-explicit-deny", "eip-self-healing", EIP,
             r"(      Policies:\n        - PolicyName: associate-own-eip\n          PolicyDocument:\n"
             r"            Version: \"2012-10-17\"\n            Statement:\n)",
             "\\1              - {Effect: Deny, Action: 'ec2:Associate*', Resource: '*'}\n",
             r"UnauthorizedOperation.*ec2:AssociateAddress",
             "an explicit Deny on ec2:Associate* beside the Allow"),
    Mutation("eip-wrong-allocation-id", "eip-self-healing", EIP,
             r"- AllocationId: !GetAtt ElasticIp\.AllocationId", "- AllocationId: eipalloc-0123456789abcdef0",
             r"user data exited \d+ .*(UnauthorizedOperation.*ec2:AssociateAddress|InvalidAllocationID\.NotFound)",
             "the user data associates an allocation id that does not exist"),
    Mutation("eip-associate-deleted", "eip-self-healing", EIP,
             r"aws ec2 associate-address[^\n]*\\\n[^\n]*\n", "true\n",
             r"Elastic IP \S+ \(eipalloc-\w+\) is associated with nothing",
             "the associate-address line deleted from the user data"),
    Mutation("eip-group-max-below-desired", "eip-self-healing", EIP,
             r'MaxSize: "1"', 'MaxSize: "0"',
             r"ValidationError|Max bound, 0, must be greater than or equal to min bound|Desired capacity",
             "the group's MaxSize 0 below DesiredCapacity 1"),
    Mutation("eip-record-outside-zone", "eip-self-healing", EIP,
             r'Name: !Sub "app\.\$\{ZoneName\}"', 'Name: !Sub "app.${ZoneName}x"',
             r"InvalidChangeBatch|no record app\.",
             "the record's name typed outside its zone"),
    Mutation("spot-user-data-no-route53", "spot-vpc-origin", SPOT,
             r"(- UserDataVariant\n\s+- Effect: Allow\n\s+Action: )route53:ChangeResourceRecordSets",
             r"\1route53:ListResourceRecordSets",
             r"AccessDenied.*route53:ChangeResourceRecordSets",
             "the user-data variant's role lacks route53:ChangeResourceRecordSets"),
    Mutation("spot-user-data-wrong-record", "spot-vpc-origin", SPOT,
             r'\\"Name\\":\\"origin\.internal\.\$\{ZoneName\}\\"', r'\\"Name\\":\\"orgin.internal.${ZoneName}\\"',
             r"no record origin\.internal\.",
             "the user data writes a misspelt record name"),
    Mutation("spot-hook-never-completes", "spot-vpc-origin", SPOT,
             r"                  autoscaling\.complete_lifecycle_action\(\n(?:[^\n]*\n){3}[^\n]*\)\n",
             "                  pass\n",
             r"CompleteLifecycleAction",
             "the hook's Lambda never calls CompleteLifecycleAction"),
    Mutation("fargate-health-path-missing", "dns-failover-fargate", FARGATE,
             r"ResourcePath: !Ref HealthCheckPath", "ResourcePath: /nope",
             r"fallback|health check",
             "the Route 53 health check asks a path the app does not serve"),
    Mutation("fargate-failover-swapped", "dns-failover-fargate", FARGATE,
             r"Failover: PRIMARY(?P<between>(?:.|\n)*?)Failover: SECONDARY",
             r"Failover: SECONDARY\g<between>Failover: PRIMARY",
             r"fallback",
             "PRIMARY and SECONDARY records swapped"),
    Mutation("origin-group-no-403", "origin-group", ORIGIN,
             r"Quantity: 6\n(\s+)Items: \[500, 502, 503, 504, 403, 404\]",
             r"Quantity: 5\n\1Items: [500, 502, 503, 504, 404]",
             r"403|deny-bucket-policy",
             "origin failover codes without 403"),
    Mutation("origin-group-replica-wrong-region", "origin-group", ORIGIN,
             r"\$\{ReplicaBucketName\}\.s3\.\$\{ReplicaRegion\}\.amazonaws\.com",
             "${ReplicaBucketName}.s3.${AWS::Region}.amazonaws.com",
             r"http_3xx|301|redirect",
             "the replica origin addressed in the primary's region"),
    Mutation("static-ip-haproxy-no-resolvers", "static-ip-haproxy", STATIC,
             r" resolvers vpc resolve-prefer ipv4 init-addr last,none", "",
             r"blue-green-switch.*(green|switch)",
             "HAProxy resolves the backend's name once at start (libc, no resolvers section in use)", "blue-green"),
)


def run(mutation: Mutation, scratch: Path) -> dict[str, object]:
    tree = scratch / mutation.name
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache"))
        elif source.exists():
            shutil.copy2(source, tree / name)
    target = tree / mutation.path
    text = target.read_text()
    mutated, count = re.subn(mutation.pattern, mutation.replacement, text)
    if count != 1:
        return {"name": mutation.name, "error": f"pattern matched {count} times in {mutation.path}"}
    target.write_text(mutated)
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "gameday", "run", "--backend", "local", "--profile", "fast",
                               "--stack", mutation.stack, "--report-dir", str(tree / "reports"),
                               *(["-k", mutation.only] if mutation.only else [])],
                              cwd=tree, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = -1, f"{exc.stdout or ''}{exc.stderr or ''}timed out after {RUN_TIMEOUT_S:.0f} s"
    took = time.monotonic() - started
    found = FIRST_LINE.search(output)
    first = f"{found.group(1)} {found.group(2)}" if found else ""
    named = bool(re.search(mutation.cause, first))
    return {"name": mutation.name, "stack": mutation.stack, "what": mutation.what, "exit_code": code,
            "caught": code not in (0, -1), "cause_named": named, "first_failure_line": first[:1000],
            "seconds": round(took, 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these mutations (default: every one)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    if args.list or not chosen:
        for m in MUTATIONS:
            print(f"{m.name:36} {m.stack:22} {m.what}")
        return 0 if chosen or args.list else 2
    results = []
    with tempfile.TemporaryDirectory(prefix="gameday-mutations-") as scratch:
        for mutation in chosen:
            result = run(mutation, Path(scratch))
            results.append(result)
            mark = "caught, cause named" if result.get("cause_named") else (
                "caught, cause NOT named" if result.get("caught") else "NOT CAUGHT")
            print(f"{mutation.name}: {mark} ({result.get('seconds', '?')} s): {result.get('first_failure_line')}",
                  flush=True)
    RESULTS.mkdir(exist_ok=True)
    summary = {"benchmark": "mutations", "backend": "localcloud", "profile": "fast",
               "caught": sum(1 for r in results if r.get("caught")),
               "cause_named": sum(1 for r in results if r.get("cause_named")), "total": len(results),
               "results": results}
    (RESULTS / "mutations.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{summary['cause_named']}/{summary['total']} caught with the cause named "
          f"({summary['caught']} caught)")
    return 0 if summary["cause_named"] == summary["total"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
