"""``online deploy`` results and requests: what a local deploy prints for ``--once``, and the
Kubernetes-only options that are warned about when serving here."""

from __future__ import annotations

from pathlib import Path

from pipeline.online.bento import Bundle
from pipeline.online.deploy import ignored_locally
from pipeline.online.model_ref import ResolvedModel
from pipeline.online.request import DeployRequest
from pipeline.online.serve_local import LocalDeployment


def test_only_the_kubernetes_options_given_are_ignored_locally() -> None:
    assert ignored_locally(DeployRequest("iris", "1")) == []
    local = DeployRequest("iris", "1", istio=True, gpu=True, env="prod")
    assert ignored_locally(local) == ["--istio", "--gpu", "--env"]
    assert ignored_locally(DeployRequest("iris", "1", use_k8s=True, istio=True, env="prod")) == []


def test_once_prints_the_request_sent_and_the_answer(tmp_path: Path) -> None:
    model = ResolvedModel("iris", "1", "a" * 32, "sklearn", tmp_path, (), (), ())
    done = LocalDeployment(
        model=model,
        bundle=Bundle(tmp_path / "bundle", "service:Iris", (), "3.11"),
        url="http://127.0.0.1:3000",
        argv=("bentoml", "serve"),
        example_request={"inputs": [[5.1, "a b"]]},
        answer=[0],
    )
    assert done.answered() == [
        'POST http://127.0.0.1:3000/predict {"inputs": [[5.1, "a b"]]}',
        "[0]",
    ]
