"""The benches stay readable: no function in ``bench/`` over 50 lines (issue 26)."""

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
MAX_LINES = 50


def long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}, {lines} lines")
    return found


def test_no_function_in_bench_is_over_50_lines():
    assert long_functions(BENCH) == []


def test_a_long_function_is_found(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n", encoding="utf-8")
    (tmp_path / "short.py").write_text("def short():\n    return 1\n", encoding="utf-8")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/long.py:1 long, {MAX_LINES + 1} lines"]
