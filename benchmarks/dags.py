"""Benchmark: Airflow's parse time of 100 batch jobs, somlier's DAG files vs dag-factory.

The same 100 jobs (one pod each: image, command, CPU and memory; every 4th with a GPU, node
selector and toleration; every 3rd with MLflow variables and a Slack alert) written four ways:

- somlier      100 DAG files in the contract's shape, importing MLOpsOfflineOperator from the
               operators package `somlier dags init` installs (the provider deferred to run time)
- dag-factory  one loader .py + 100 YAML files (dag-factory 1.1), one KubernetesPodOperator each
- static KPO   100 hand-written files importing KubernetesPodOperator and kubernetes models
- subclass     somlier's DAG files, with an operator that subclasses KubernetesPodOperator (what
               the operator would cost if it imported the provider at module level)
- floor        100 DAG files of one EmptyOperator each: what any one-file-per-DAG layout costs

Two measures, each in fresh processes of the Airflow virtualenv (.ci/airflow.sh), median of
--rounds after a warm-up (which also writes the .pyc files):

- fill      one DagBag filled from the folder, in one process (the issue's measure)
- processor as Airflow 3's DAG processor parses: each file in its own process forked from a
            parent that pre-imported the file's `airflow.*` imports ([dag_processor]
            parsing_pre_import_modules); a second, steady-state cycle, summed

Usage: python benchmarks/dags.py [--jobs 100] [--rounds 5] [--no-processor] [--airflow-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.dags.repo import init_dags_repo  # noqa: E402
from pipeline.dags.runtime import airflow_env, candidates  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "dags"
GPU_SELECTOR = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
MLFLOW = {
    "tracking_uri": "http://mlflow.mlops.svc:5000",
    "model_name": "model",
    "model_alias": "champion",
}


def job(i: int) -> dict[str, object]:
    gpu = i % 4 == 0
    mlops = i % 3 == 0
    return {
        "dag_id": f"job_{i:03d}",
        "project": f"project-{i:03d}",
        "image": f"registry.example.com/ml/project-{i:03d}:sha-{i:07x}",
        "command": ["run", "main"],
        "cpu": "2",
        "memory": "4Gi",
        "gpu_type": "nvidia-tesla-t4" if gpu else None,
        "gpus": 1 if gpu else 0,
        "node_selector": GPU_SELECTOR if gpu else {},
        "tolerations": [GPU_TOLERATION] if gpu else [],
        "mlflow": {**MLFLOW, "model_name": f"model-{i:03d}"} if mlops else None,
        "slack": mlops,
    }


DAG_HEAD = """\
import pendulum
from airflow import DAG
{imports}

with DAG(
    dag_id={dag_id!r},
    schedule='0 9 * * *',
    start_date=pendulum.datetime(2024, 1, 1, tz='Asia/Seoul'),
    catchup=False,
    max_active_runs=1,
    tags=['data-group'],
    description='',
    default_args={{'owner': 'data-group', 'retries': 3, 'depends_on_past': False}},
) as dag:
"""


def somlier_dag(j: dict[str, object]) -> str:
    imports = "from operators.mlops_offline_operator import MLOpsOfflineOperator"
    return DAG_HEAD.format(imports=imports, dag_id=j["dag_id"]) + textwrap.indent(
        textwrap.dedent(f"""\
        MLOpsOfflineOperator(
            task_id='run',
            project_name={j["project"]!r},
            ml_project_docker_image={j["image"]!r},
            command={j["command"]!r},
            namespace='mlops',
            cpu={j["cpu"]!r},
            memory={j["memory"]!r},
            gpu_type={j["gpu_type"]!r},
            num_of_gpus={j["gpus"]!r},
            node_selector={j["node_selector"]!r},
            tolerations={j["tolerations"]!r},
            secrets=['mlops-secrets'],
            mlflow={j["mlflow"]!r},
            slack_on_failure={j["slack"]!r},
        )
        """),
        "    ",
    )


def _limits(j: dict[str, object]) -> dict[str, str]:
    limits = {"cpu": str(j["cpu"]), "memory": str(j["memory"])}
    if j["gpus"]:
        limits["nvidia.com/gpu"] = str(j["gpus"])
    return limits


def static_kpo_dag(j: dict[str, object]) -> str:
    imports = (
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
        "from kubernetes.client import models as k8s"
    )
    env = {}
    if j["mlflow"]:
        mlflow = dict(j["mlflow"])  # type: ignore[call-overload]
        env = {"MLFLOW_TRACKING_URI": mlflow["tracking_uri"], "MODEL_NAME": mlflow["model_name"]}
    requests = {"cpu": j["cpu"], "memory": j["memory"]}
    return DAG_HEAD.format(imports=imports, dag_id=j["dag_id"]) + textwrap.indent(
        textwrap.dedent(f"""\
        KubernetesPodOperator(
            task_id='run',
            name={j["project"]!r},
            image={j["image"]!r},
            arguments={j["command"]!r},
            namespace='mlops',
            labels={{'app.kubernetes.io/name': {j["project"]!r}}},
            container_resources=k8s.V1ResourceRequirements(
                requests={requests!r}, limits={_limits(j)!r}
            ),
            node_selector={j["node_selector"]!r},
            tolerations=[k8s.V1Toleration(**t) for t in {j["tolerations"]!r}],
            env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name='mlops-secrets'))],
            env_vars={env!r},
            on_finish_action='delete_pod',
        )
        """),
        "    ",
    )


def floor_dag(j: dict[str, object]) -> str:
    imports = "from airflow.providers.standard.operators.empty import EmptyOperator"
    head = DAG_HEAD.format(imports=imports, dag_id=j["dag_id"])
    return head + "    EmptyOperator(task_id='run')\n"


SUBCLASS_OPERATOR = '''\
"""The contract's operator as a KubernetesPodOperator subclass: the provider at import time."""
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s


class MLOpsOfflineOperator(KubernetesPodOperator):
    def __init__(self, *, project_name, ml_project_docker_image, command, namespace="default",
                 cpu=None, memory=None, gpu_type=None, num_of_gpus=0, node_selector=None,
                 tolerations=None, secrets=(), mlflow=None, slack_on_failure=False, **kwargs):
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        limits = dict(requests)
        if num_of_gpus:
            limits["nvidia.com/gpu"] = str(num_of_gpus)
        env = {}
        if mlflow:
            env = {"MLFLOW_TRACKING_URI": mlflow["tracking_uri"],
                   "MODEL_NAME": mlflow["model_name"], "MODEL_ALIAS": mlflow["model_alias"]}
        super().__init__(
            name=project_name, image=ml_project_docker_image, arguments=list(command),
            namespace=namespace,
            labels={"app.kubernetes.io/name": project_name,
                    "app.kubernetes.io/managed-by": "somlier"},
            container_resources=k8s.V1ResourceRequirements(requests=requests, limits=limits),
            node_selector=node_selector or None,
            tolerations=[k8s.V1Toleration(**t) for t in tolerations or []],
            env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=s))
                      for s in secrets],
            env_vars=env, on_finish_action="delete_pod", **kwargs)
'''

LOADER = """\
# airflow DAG: every YAML file under jobs/, through dag-factory
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent / "jobs"))
"""


def dagfactory_yaml(j: dict[str, object]) -> str:
    task: dict[str, object] = {
        "task_id": "run",
        "operator": "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
        "name": j["project"],
        "image": j["image"],
        "arguments": j["command"],
        "namespace": "mlops",
        "labels": {"app.kubernetes.io/name": j["project"]},
        "container_resources": {
            "__type__": "kubernetes.client.models.V1ResourceRequirements",
            "requests": {"cpu": j["cpu"], "memory": j["memory"]},
            "limits": _limits(j),
        },
        "node_selector": j["node_selector"],
        "tolerations": j["tolerations"],
        "env_from": [
            {
                "__type__": "kubernetes.client.models.V1EnvFromSource",
                "secret_ref": {
                    "__type__": "kubernetes.client.models.V1SecretEnvSource",
                    "name": "mlops-secrets",
                },
            }
        ],
        "on_finish_action": "delete_pod",
    }
    if j["mlflow"]:
        mlflow = dict(j["mlflow"])  # type: ignore[call-overload]
        task["env_vars"] = {
            "MLFLOW_TRACKING_URI": mlflow["tracking_uri"],
            "MODEL_NAME": mlflow["model_name"],
        }
    dag = {
        "schedule": "0 9 * * *",
        "start_date": "2024-01-01",
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["data-group"],
        "description": "",
        "default_args": {"owner": "data-group", "retries": 3, "depends_on_past": False},
        "tasks": [task],
    }
    return json.dumps({j["dag_id"]: dag}, indent=2)  # JSON is YAML


def generate(jobs: int) -> dict[str, Path]:
    """Write the four layouts under benchmarks/out/dags/; return each one's repo root."""
    if OUT.exists():
        shutil.rmtree(OUT)
    names = ("somlier", "dag-factory", "static KPO", "subclass", "floor")
    roots = {name: OUT / name for name in names}
    init_dags_repo(roots["somlier"])
    (roots["subclass"] / "operators").mkdir(parents=True)
    (roots["subclass"] / "operators" / "__init__.py").write_text("")
    (roots["subclass"] / "operators" / "mlops_offline_operator.py").write_text(SUBCLASS_OPERATOR)
    for root in roots.values():
        (root / "dags").mkdir(parents=True)
    (roots["dag-factory"] / "dags" / "jobs").mkdir()
    (roots["dag-factory"] / "dags" / "load_dags.py").write_text(LOADER)
    for i in range(jobs):
        j = job(i)
        name = f"{j['dag_id']}.py"
        (roots["somlier"] / "dags" / name).write_text(somlier_dag(j))
        (roots["subclass"] / "dags" / name).write_text(somlier_dag(j))
        (roots["static KPO"] / "dags" / name).write_text(static_kpo_dag(j))
        (roots["floor"] / "dags" / name).write_text(floor_dag(j))
        (roots["dag-factory"] / "dags" / "jobs" / f"{j['dag_id']}.yaml").write_text(
            dagfactory_yaml(j)
        )
    return roots


FILL = """
import json, logging, sys, time
sys.path.insert(0, ROOT)
from airflow.dag_processing.dagbag import DagBag
logging.disable(logging.CRITICAL)
start = time.perf_counter()
bag = DagBag(dag_folder=ROOT + "/dags")
seconds = time.perf_counter() - start
slowest = max(s.duration.total_seconds() for s in bag.dagbag_stats)
tasks = sum(len(d.tasks) for d in bag.dags.values())
print(json.dumps({"seconds": seconds, "slowest_file": slowest, "dags": len(bag.dags),
                  "tasks": tasks, "errors": len(bag.import_errors)}))
"""

PROCESSOR = """
import importlib, json, logging, os, sys, time
sys.path.insert(0, ROOT)
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
logging.disable(logging.CRITICAL)
files = sorted(str(p) for p in __import__("pathlib").Path(ROOT, "dags").glob("*.py"))

def cycle():
    failed = 0
    start = time.perf_counter()
    for path in files:
        for module in iter_airflow_imports(path):  # the processor's pre-import, in the parent
            importlib.import_module(module)
        pid = os.fork()
        if pid == 0:
            bag = DagBag(dag_folder=path)
            os._exit(0 if bag.dags and not bag.import_errors else 1)
        failed += os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
    return time.perf_counter() - start, failed

first, _ = cycle()
steady, failed = cycle()
print(json.dumps({"seconds": steady, "first_cycle": first, "files": len(files),
                  "failed": failed}))
"""


def measure(python: Path, code: str, root: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="somlier-bench-") as home:
        env = airflow_env(Path(home), root / "dags", os.environ)
        done = subprocess.run(
            [str(python), "-I", "-c", f"ROOT = {str(root)!r}\n{code}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"{root.name}: the measure failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--airflow-python", type=Path)
    parser.add_argument(
        "--no-processor", action="store_true", help="skip the processor measure (minutes)"
    )
    args = parser.parse_args()
    python = args.airflow_python or next((p for p in candidates(ROOT) if p.exists()), None)
    if python is None:
        raise SystemExit("no Airflow virtualenv: run .ci/airflow.sh (or pass --airflow-python)")
    roots = generate(args.jobs)
    names = list(roots)
    print(f"{args.jobs} jobs, {args.rounds} rounds, Airflow python {python}", flush=True)

    fills: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for name in names:  # warm-up: .pyc files, page cache
        warm = measure(python, FILL, roots[name])
        if warm["dags"] != args.jobs or warm["errors"]:
            raise SystemExit(f"{name}: {warm['dags']} DAGs, {warm['errors']} import errors")
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fills[name].append(measure(python, FILL, roots[name]))
    nothing = {"seconds": float("nan"), "files": 0, "failed": 0}
    procs = {
        n: nothing if args.no_processor else measure(python, PROCESSOR, roots[n]) for n in names
    }

    med = {n: statistics.median(m["seconds"] for m in fills[n]) for n in names}
    slow = {n: statistics.median(m["slowest_file"] for m in fills[n]) for n in names}
    print()
    print(f"{'':12} {'DagBag fill':>12} {'slowest file':>13} {'processor cycle':>16} {'files':>6}")
    for n in names:
        p = procs[n]
        print(
            f"{n:12} {med[n]:>10.3f} s {slow[n]:>11.3f} s {p['seconds']:>14.3f} s "
            f"{int(p['files']):>6}" + (f"  ({int(p['failed'])} failed)" if p["failed"] else "")
        )
    print()
    base = med["somlier"]
    for n in ("dag-factory", "static KPO", "subclass", "floor"):
        goal = " (goal >= 5x)" if n == "dag-factory" else ""
        print(f"DagBag fill, {n} / somlier: {med[n] / base:.2f}x{goal}")
    if not args.no_processor:
        cycle = procs["somlier"]["seconds"]
        for n in ("dag-factory", "subclass", "floor"):
            print(f"processor cycle, {n} / somlier: {procs[n]['seconds'] / cycle:.2f}x")
    rounds = {n: [round(m["seconds"], 3) for m in fills[n]] for n in names}
    print(f"every fill round, s: {json.dumps(rounds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
