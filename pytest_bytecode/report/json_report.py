"""The JSON report (format 1); its schema is documented in README.md.

Every measured code object appears, executed or not; instruction offsets are
those of the original code object as ``dis.get_instructions`` reports them.
Instructions and branches on excluded lines are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_bytecode import __version__
from pytest_bytecode.files import write_json_atomic
from pytest_bytecode.results import Results

#: Version of the report's layout.  History:
#:   1 - first version.
FORMAT = 1


def document(results: Results) -> dict[str, Any]:
    """The report as plain JSON data."""
    return {
        "meta": {
            "format": FORMAT,
            "version": __version__,
            "python": results.python_version,
            "crashed_workers": [c.to_json() for c in results.crashed_workers],
            "traced_during": list(results.traced_during),
        },
        "totals": results.totals.as_dict(),
        "files": {
            path: {
                "summary": fres.summary.as_dict(),
                "partial": fres.partial,
                "code_objects": [
                    {
                        "qualname": code.qualname,
                        "name": code.name,
                        "firstlineno": code.firstlineno,
                        "traced": fres.is_traced(code),
                        "instructions": [
                            {
                                "offset": i.offset,
                                "opname": i.opname,
                                "line": i.line,
                                "count": i.count,
                            }
                            for i in code.instructions
                        ],
                        "branches": [
                            {
                                "offset": b.offset,
                                "opname": b.opname,
                                "line": b.line,
                                "outcomes": [
                                    {"target_offset": o.target_offset, "count": o.count}
                                    for o in b.outcomes
                                ],
                            }
                            for b in code.branches
                        ],
                    }
                    for code in fres.code_objects
                ],
            }
            for path, fres in results.files.items()
        },
    }


def text(results: Results) -> str:
    """The report as indented JSON text."""
    return json.dumps(document(results), indent=2) + "\n"


def write(results: Results, path: Path) -> None:
    """Write the report to ``path`` (indented, atomically)."""
    write_json_atomic(path, document(results), indent=2)
