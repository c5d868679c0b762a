"""Hypothesis strategies for DAG specs full of hostile text (quotes, Jinja, newlines, code),
shared by the unit fuzz tests and the Airflow import of fuzzed DAGs."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st

from pipeline.config.settings import Toleration
from pipeline.offline.spec import DagSpec, MLflowTarget, Source

NASTY = st.sampled_from(
    [
        "'",
        '"',
        '"""',
        "'''",
        "\\",
        "\\'",
        "\n",
        "\r",
        "\r\n",
        "\x0c",
        "\x00",
        "\u2028",
        "\x85",
        "{{ dag }}",
        "{{",
        "}}",
        "{% if x %}",
        "{% endif %}",
        "{#",
        "#}",
        "{%- raw -%}",
        "é",
        "한국어",
        "🙂",
        "\t",
        "${HOME}",
        "__import__('os').system('id')",
        "\\N{BULLET}",
        "\\x00",
        "-*- coding: utf-7 -*-",
        "coding=latin-1",
        "+AAo-import os+AAo-",
        "\u202e",
        ")\nimport os\n(",
        "# comment",
        "\ufeff",
    ]
)
TEXT = st.lists(st.text(max_size=8) | NASTY, max_size=5).map("".join)
MAYBE = st.none() | TEXT
TOLERATIONS = st.builds(Toleration, key=TEXT, operator=MAYBE, value=MAYBE, effect=MAYBE)


@st.composite
def dag_specs(draw: st.DrawFn) -> DagSpec:
    mlops = draw(st.booleans())
    gpu = draw(st.none() | st.tuples(TEXT, st.integers(1, 8)))
    return DagSpec(
        dag_id=draw(st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)),
        schedule=draw(st.sampled_from([None, "@daily", "@once", "0 9 * * *", "*/5 1-3 * * 1"])),
        template="mlops" if mlops else "default",
        project_name=draw(TEXT),
        image=draw(TEXT),
        # `run NAME` (the pod contract: pipeline/offline/pod.py), then any text as its arguments.
        command=(
            "run",
            draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
            *draw(st.lists(TEXT, max_size=4)),
        ),
        description=draw(TEXT),
        owner=draw(TEXT),
        tags=tuple(draw(st.lists(TEXT, max_size=3))),
        retries=draw(st.integers(0, 20)),
        timezone=draw(st.sampled_from(["Asia/Seoul", "UTC", "America/New_York"])),
        start_date=draw(st.dates(datetime.date(1970, 1, 1), datetime.date(2100, 1, 1))),
        catchup=draw(st.booleans()),
        namespace=draw(TEXT),
        cpu=draw(MAYBE),
        memory=draw(MAYBE),
        gpu_type=gpu[0] if gpu else None,
        num_of_gpus=gpu[1] if gpu else 0,
        node_selector=tuple(draw(st.dictionaries(TEXT, TEXT, min_size=1, max_size=3)).items())
        if gpu
        else (),
        tolerations=tuple(draw(st.lists(TOLERATIONS, max_size=2))) if gpu else (),
        secrets=tuple(draw(st.lists(TEXT, max_size=2))),
        mlflow=MLflowTarget(tracking_uri=draw(TEXT), model_name=draw(TEXT), model_alias=draw(TEXT))
        if mlops
        else None,
        source=Source(
            project=draw(MAYBE),
            path=draw(MAYBE),
            job=draw(st.none() | st.integers(0, 99)),
            commit=draw(MAYBE),
        ),
    )
