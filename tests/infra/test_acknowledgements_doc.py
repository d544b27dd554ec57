"""docs/acknowledgements.md is exactly what the app acknowledges."""
from pathlib import Path

from infra.acknowledgements_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "acknowledgements.md"


def test_acknowledgements_doc_is_current(estate):
    assert DOC.read_text() == render(estate.acknowledgements()), (
        "regenerate: .venv/bin/python -m infra.acknowledgements_doc > docs/acknowledgements.md")
