"""A model's name and its one canonical form.

Kubernetes names, the deploy folder ``<env>/<label>/`` and the branch
``somlier/deploy/<label>-<env>``
are lower-case DNS labels, so ``churn-model``, ``CHURN-MODEL``, ``churn_model`` and
``Churn.Model`` all land in the same place. :func:`model_key` is that place's name: the
allowlists of ``.somlier/OWNERS.yaml`` are matched on it, the deploy folder, branch and
manifest names are made from it, and a name that differs from a known model's only in case or
separators is refused where the known spelling is at hand (the OWNERS file, the MLflow
registry, the deploy repository's release record). Hidden characters (zero-width, bidi
controls) and lookalikes (fullwidth letters, other NFKC compatibility forms) are refused
outright with a message that says what they are, never folded into a real name.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.errors import UserError, clipped

# A registered model name as MLflow and Kubernetes both accept it once canonical: ASCII only.
MODEL_NAME = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
)  # anchored: also a JSON Schema pattern
_SEPARATORS = re.compile(r"[._-]+")


def check_model_name(name: str) -> None:
    """Refuse a name that is not plain ASCII letters, digits, '.', '_' and '-'."""
    if MODEL_NAME.fullmatch(name):
        return
    hidden = [c for c in name if unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp")]
    folded = unicodedata.normalize("NFKC", "".join(c for c in name if c not in hidden))
    shown = clipped(name.encode("ascii", "backslashreplace").decode())
    if hidden:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in hidden}))
        raise UserError(
            f"invalid model name {shown!r}: it holds hidden characters ({codes})",
            hint="type the name again: letters, digits, '.', '_' and '-' only",
        )
    if folded != name and MODEL_NAME.fullmatch(folded):
        raise UserError(
            f"invalid model name {shown!r}: it looks like {clipped(folded)!r} but is written "
            "with lookalike (fullwidth or compatibility) characters",
            hint=f"write it as {clipped(folded)!r}",
        )
    raise UserError(
        f"invalid model name {shown!r}",
        hint="letters, digits, '.', '_' and '-', at most 63 characters",
    )


def model_key(name: str) -> str:
    """The canonical form of a model name: lower case, each run of '.', '_' and '-' one '-'
    (``Churn__Model`` → ``churn-model``). Refuses what :func:`check_model_name` refuses."""
    check_model_name(name)
    return _SEPARATORS.sub("-", name.lower()).strip("-")


def spelling_clash(name: str, known: str, where: str) -> UserError:
    """The error for ``name`` when ``known`` has its canonical form but another spelling."""
    return UserError(
        f"model name {name!r} differs only in case or separators from {known!r} ({where}); "
        "both would share one deploy folder and allowlist",
        hint=f"write it as {known!r}",
    )
