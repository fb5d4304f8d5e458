"""Deploy-time cost of Camunda 7 diagrams: the conversion alone (app/engine/camunda.py) and the whole
check a deploy runs (BPMN schema, conversion, SpiffWorkflow parse), per diagram of the corpus in
tests/bpmn/compat/camunda/. Run time has no Camunda cost: the converted specs are spiff specs.

    .venv/bin/python bench/camunda_bench.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from lxml import etree  # noqa: E402

from app.engine import camunda, check_bpmn  # noqa: E402


def main(rounds: int = 20) -> None:
    files = sorted((PROJECT / "tests" / "bpmn" / "compat" / "camunda").glob("*/*.bpmn"))
    contents = [(f.name, f.read_bytes(), {p.name: p.read_bytes() for p in f.parent.glob("*.dmn")}) for f in files]
    started = time.perf_counter()
    for _ in range(rounds):
        for _, content, _ in contents:
            camunda.convert(etree.fromstring(content), {})
    convert_ms = (time.perf_counter() - started) / (rounds * len(contents)) * 1000
    started = time.perf_counter()
    for _ in range(max(1, rounds // 4)):
        for name, content, dmn in contents:
            check_bpmn(name, content, dmn)
    check_ms = (time.perf_counter() - started) / (max(1, rounds // 4) * len(contents)) * 1000
    print(f"{len(contents)} Camunda diagrams: conversion {convert_ms:.2f} ms each; "
          f"whole deploy check (schema, conversion, parse) {check_ms:.1f} ms each")


if __name__ == "__main__":
    main()
