"""The `test` entrypoint (`python -m test`): checks that run before an image is shipped."""

from __future__ import annotations

from train import fit


def test_the_model_learns() -> None:
    _, example, accuracy = fit(c=1.0, max_iter=200, seed=0)
    assert accuracy > 0.8, f"accuracy {accuracy:.3f} is too low"
    assert len(example) == 3


if __name__ == "__main__":
    test_the_model_learns()
    print("tests passed")
