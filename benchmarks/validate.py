"""Benchmark: `somlier validate` on 10,000 generated somlier.yaml files, side by side with
check-jsonschema (same schema, same files) and the floor (parsing only, PyYAML's C loader, one
process). Prints wall times and ratios. Usage: python benchmarks/validate.py [--files N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TEMPLATE = """\
global: {{env: dev, logging: {{format: json}}}}
project:
  name: project-{i}
  python: {{version: "3.11", requirements_txt: requirements.txt}}
  docker: {{name: project-{i}, tags: [latest, team-{team}], env: ["LOG_LEVEL=info"], volumes: []}}
  depends_on: ["libs/common-{team}/**"]
model:
  name: model-{i}
  version: v0.{minor}.{i}
  tags: [dev, team-{team}]
  assets:
    - provider: gcs
      files:
        weights: {{remote_uri: "gs://bucket/models/{i}/weights.bin", local_path: data/weights.bin}}
  config:
    threshold: 0.{minor}
    features: [a, b, c, d]
    nested: {{depth: {{level: {i}}}}}
entrypoints:
  main: {{command: python, args: [main.py]}}
  train: {{command: python, args: [train.py, --epochs, "3"]}}
  test: {{command: python, args: ["-m", "test"]}}
offline:
  - dag_id: job_{i}_daily
    schedule: "0 {hour} * * *"
    entrypoint: main
    retries: 2
    resources: {{cpu: "2", memory: 4Gi}}
  - dag_id: job_{i}_weekly
    schedule: "@weekly"
    entrypoint: train
    template: mlops
    gpu: {{type: nvidia-tesla-t4, count: 1}}
online:
  resources: {{cpu: 500m, memory: 1Gi}}
  replicas: {{min: 1, max: 3}}
  port: 3000
"""

FLOOR = """
import sys, yaml
from pathlib import Path
for p in Path(sys.argv[1]).rglob("somlier.yaml"):
    yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)
"""


def generate(root: Path, count: int) -> list[Path]:
    files = []
    for i in range(count):
        folder = root / f"p{i:05d}"
        folder.mkdir()
        (folder / "requirements.txt").write_text("numpy\n")
        text = TEMPLATE.format(i=i, team=i % 17, minor=i % 10, hour=i % 24)
        path = folder / "somlier.yaml"
        path.write_text(text)
        files.append(path)
    return files


def timed(argv: list[str], expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        sys.exit(f"{argv[0]} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--skip-peer", action="store_true", help="skip check-jsonschema (slow)")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pipeline")], check=True)
    workdir = Path(tempfile.mkdtemp(prefix="somlier-bench-"))
    try:
        files = generate(workdir, args.files)
        list_file = workdir / "files.txt"
        list_file.write_text("\n".join(map(str, files)))
        somlier = timed([str(BIN / "somlier"), "validate", str(workdir)])
        floor = timed([sys.executable, "-c", FLOOR, str(workdir)])
        rows = [("somlier validate", somlier), ("floor: parse only (C loader)", floor)]
        if not args.skip_peer:
            schema = ROOT / "schemas" / "somlier.schema.json"
            peer = timed(
                [str(BIN / "check-jsonschema"), "--schemafile", str(schema), *map(str, files)]
            )
            rows.append(("check-jsonschema", peer))
        print(f"{args.files} files, {len(__import__('os').sched_getaffinity(0))} CPUs")
        for name, seconds in rows:
            print(f"  {name:32s} {seconds:8.2f} s   {seconds / somlier:6.2f}x somlier")
        print(f"somlier / floor = {somlier / floor:.2f} (goal <= 2.0)")
        if not args.skip_peer:
            print(f"check-jsonschema / somlier = {rows[2][1] / somlier:.2f} (goal >= 6.0)")
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
