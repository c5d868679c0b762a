"""Which environment variables a somlier.yaml may read through ``${VAR}``.

A somlier.yaml comes from a pull request, and whatever runs somlier (a CI job, ``somlier api``)
holds tokens in its environment. So a project file reads only the variables the platform lists in
``.somlier/platform.yaml`` (``interpolation.allow``), and never one that names a secret, even when
listed: a variable some ``*_env`` setting names (``github.token_env``, ``api.token_env``, ...), or
one whose name looks like a credential (``…TOKEN…``, ``…SECRET…``, ``AWS_…``, ``SOMLIER_…``, see
:data:`SECRET_WORDS` and :data:`SECRET_PREFIXES`). Names are compared case-insensitively and
without underscores, so ``github__token`` or ``GitHub_Token`` is ``GITHUB_TOKEN``.

The check happens before the environment is read: a refused name never reveals whether it is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings

SETTING = "interpolation.allow"

# A name holding one of these words (compared without underscores, upper-case) is a credential.
SECRET_WORDS = (
    "TOKEN",
    "SECRET",
    "PASS",  # PASSWORD, PASSWD, DB_PASS
    "PWD",
    "CRED",
    "PRIVATE",
    "KEY",
    "AUTH",
    "COOKIE",
    "SESSION",
    "SIGNATURE",
    "DSN",
)
# Families of variables that carry credentials or the platform's own configuration (URLs with a
# password in them, tokens of cloud SDKs, the runner's internals), compared on the upper-case name
# without leading underscores.
SECRET_PREFIXES = (
    "SOMLIER_",  # tokens, the webhook secret, SOMLIER__ settings overrides (URIs with passwords)
    "GITHUB_",
    "GH_",
    "ACTIONS_",
    "RUNNER_",
    "AWS_",
    "AZURE_",
    "ARM_",
    "GOOGLE_",
    "GCLOUD_",
    "GCP_",
    "CLOUDSDK_",
    "MLFLOW_",
    "AIRFLOW_",
    "DATABRICKS_",
    "SLACK_",
    "DOCKER_",
    "KUBE",
    "PIP_",
    "UV_",
    "TWINE_",
    "NPM_",
    "SSH_",
    "GPG_",
    "VAULT_",
    "NETRC",
    "HF_",
    "HUGGING_FACE_",
    "OPENAI_",
)


def canonical(name: str) -> str:
    """The spelling-free form of a name: upper-case, without underscores."""
    return name.replace("_", "").upper()


def secret_reason(name: str, configured: Mapping[str, str]) -> str | None:
    """Why ``name`` is never readable (None when it may be): ``configured`` maps the canonical
    form of each variable a ``*_env`` setting names to that setting."""
    flat = canonical(name)
    if flat in configured:
        return f"it is the secret that {configured[flat]} names"
    word = next((w for w in SECRET_WORDS if w in flat), None)
    if word is not None:
        return f"its name contains {word}, so it is treated as a secret"
    upper = name.upper().lstrip("_")
    prefix = next((p for p in SECRET_PREFIXES if upper.startswith(p)), None)
    if prefix is not None:
        return f"variables named {prefix}… hold credentials or platform settings"
    return None


@dataclass(frozen=True)
class Refusal:
    message: str
    hint: str


@dataclass(frozen=True)
class Variables:
    """The rule for one monorepo: the allowed names and the names of its configured secrets."""

    allow: frozenset[str] = frozenset()
    configured: Mapping[str, str] = dataclasses.field(default_factory=dict)  # canonical -> setting

    def refusal(self, name: str) -> Refusal | None:
        """Why ``${name}`` may not be read (None when it may); decided on the name alone."""
        reason = secret_reason(name, self.configured)
        if reason is not None:
            return Refusal(
                f"${{{name}}} may not be read from a somlier.yaml: {reason}",
                "write the value itself; secrets reach jobs through the platform, never through "
                f"somlier.yaml, even when listed in {SETTING}",
            )
        if name not in self.allow:
            return Refusal(
                f"${{{name}}} is not an allowed variable: a somlier.yaml reads only the "
                f"variables listed in {SETTING} of .somlier/platform.yaml",
                f"write the value itself, or have the platform add {name} to {SETTING}",
            )
        return None


def _configured(settings: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """(variable, setting) for every ``*_env`` setting, in nested sections too."""
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        where = f"{prefix}{f.name}"
        if f.name.endswith("_env") and isinstance(value, str) and value:
            yield value, where
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _configured(value, f"{where}.")


def from_settings(settings: PlatformSettings) -> Variables:
    configured = {canonical(name): where for name, where in _configured(settings)}
    return Variables(frozenset(settings.interpolation.allow), configured)
