#!/usr/bin/env python3
"""The gateway library's layering, checked: prints every `crate::` edge between top-level modules of
src/ and between the files of src/api/, and fails on an import circle, on an edge that runs against
the module map (src/lib.rs; the design's "Shape of the repository": lower layers never import
higher ones), and on the library naming the sandbox org.

An edge is any path `crate::<module>` or `super::…` outside comments and `#[cfg(test)]` modules.
A `$crate::` path in a `macro_rules!` body is an edge of each file that invokes the macro, not of
the file that defines it.

Usage: .ci/layers.py [src-dir]    (exit code 1 on any violation)
"""

import re
import sys
from pathlib import Path

# The module map: data flows request -> tenancy -> ratelimit -> api -> salesforce -> auth ->
# credentials. Higher rows may import lower rows, never the reverse nor within a row. `config`
# sits under `server` (it names auth, credentials, ratelimit and telemetry types), `error` between
# `api` and `salesforce` (it turns domain errors of the layers below into statuses), `telemetry`
# under every layer that reports to it, and the leaves `tenant` and `pb` at the bottom.
LAYERS = [
    ["server"],
    ["http"],
    ["config"],
    ["tenancy"],
    ["ratelimit"],
    ["api"],
    ["schema"],
    ["error"],
    ["salesforce"],
    ["auth"],
    ["credentials"],
    ["telemetry"],
    ["tenant", "pb"],
]
RANK = {module: rank for rank, row in enumerate(LAYERS) for module in row}
# The binary's own modules (declared in main.rs, not in lib.rs): they may name the sandbox.
BINARY_FILES = {"main.rs", "cli.rs", "demo.rs"}

PATH = re.compile(r"(?<![$\w])(crate|super)((?:::\w+)*)")


def module_path(src: Path, file: Path) -> list[str]:
    """The module path of a file: src/api/typed/lead.rs -> ["api", "typed", "lead"]."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def without_comments_and_tests(text: str) -> str:
    """The file's code: comments cut (string contents kept as they are), `#[cfg(test)]` modules
    left out (tests may reach anywhere in the crate)."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("//"):
            continue
        lines.append(line if '"' in line else line.split("//", 1)[0])
    code = "\n".join(lines)
    while (start := code.find("#[cfg(test)]\nmod ")) >= 0 or (start := code.find("#[cfg(test)]\n    mod ")) >= 0:
        brace = code.index("{", start)
        end = matching_brace(code, brace)
        code = code[:start] + code[end + 1 :]
    return code


def matching_brace(code: str, open_at: int) -> int:
    depth = 0
    for position in range(open_at, len(code)):
        if code[position] == "{":
            depth += 1
        elif code[position] == "}":
            depth -= 1
            if depth == 0:
                return position
    return len(code) - 1


def use_tree(prefix: list[str], code: str, at: int):
    """The paths of a `{a, b::c, d::{e}}` group starting at `code[at] == "{"`."""
    end = matching_brace(code, at)
    inner = code[at + 1 : end]
    depth = 0
    item_start = 0
    items = []
    for position, char in enumerate(inner + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(inner[item_start:position].strip())
            item_start = position + 1
    for item in filter(None, items):
        head = re.match(r"[\w:]*", item).group(0).rstrip(":")
        segments = [segment for segment in head.split("::") if segment]
        if item.endswith("}"):
            nested = item.index("{")
            yield from use_tree(prefix + segments, item, nested)
        else:
            yield prefix + segments


MACRO = re.compile(r"macro_rules!\s*(\w+)\s*\{")
MACRO_PATH = re.compile(r"\$crate((?:::\w+)+)")


def macro_paths(code: str) -> dict[str, list[list[str]]]:
    """The `$crate::` paths of each `macro_rules!` body in a file, by macro name."""
    found = {}
    for match in MACRO.finditer(code):
        body = code[match.end() - 1 : matching_brace(code, match.end() - 1) + 1]
        found[match.group(1)] = [
            path.group(1).split("::")[1:] for path in MACRO_PATH.finditer(body)
        ]
    return found


def referenced_paths(src: Path, file: Path, text: str, macros: dict[str, list[list[str]]]):
    """Every absolute module path a file names, as lists of segments: its own paths and those
    of the macros it invokes."""
    here = module_path(src, file)
    code = without_comments_and_tests(text)
    for name, paths in macros.items():
        if re.search(rf"(?<![\w!]){name}!", code) and not re.search(rf"macro_rules!\s*{name}\b", code):
            yield from paths
    # Paths into the file's own submodules (`mod lookup;` ... `use lookup::LookupApi;`).
    for child in re.findall(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;", code, flags=re.M):
        for match in re.finditer(rf"(?<![\w:]){child}((?:::\w+)*)::", code):
            yield here + [child] + [segment for segment in match.group(1).split("::") if segment]
    for match in PATH.finditer(code):
        root, rest = match.group(1), match.group(2).split("::")[1:]
        if root == "super":
            # `super` of a mod.rs or of a leaf file is the parent module.
            base = here[:-1]
            while rest and rest[0] == "super":
                base = base[:-1]
                rest = rest[1:]
            rest = base + rest
        if code.startswith("::{", match.end()):
            yield from use_tree(rest, code, match.end() + 2)
        else:
            yield rest


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    files = sorted(
        file
        for file in src.rglob("*.rs")
        if file.relative_to(src).as_posix() not in BINARY_FILES | {"lib.rs"}
    )
    api_nodes = {".".join(module_path(src, file)) for file in files if module_path(src, file)[0] == "api"}
    top_edges: dict[tuple[str, str], set[str]] = {}
    api_edges: dict[tuple[str, str], set[str]] = {}
    problems = []
    macros = {}
    for file in files:
        macros.update(macro_paths(without_comments_and_tests(file.read_text())))
    for file in files:
        text = file.read_text()
        here = module_path(src, file)
        shown = file.relative_to(src).as_posix()
        if "sfgate_sandbox" in text:
            problems.append(f"{shown} names the sandbox org (only the binary's demo may)")
        for path in referenced_paths(src, file, text, macros):
            if not path:
                continue
            if path[0] != here[0] and path[0] in RANK:
                top_edges.setdefault((here[0], path[0]), set()).add(shown)
            if here[0] == "api" and path[0] == "api":
                source = ".".join(here)
                # The longest api file the path points into.
                target = None
                for length in range(len(path), 0, -1):
                    candidate = ".".join(path[:length])
                    if candidate in api_nodes:
                        target = candidate
                        break
                if target is None or target == source:
                    continue
                api_edges.setdefault((source, target), set()).add(shown)

    for module in {edge[0] for edge in top_edges} | {edge[1] for edge in top_edges}:
        if module not in RANK:
            problems.append(f"module {module} has no row in .ci/layers.py LAYERS")
    print("top-level modules (importer -> imported, files):")
    for (source, target), via in sorted(top_edges.items(), key=lambda item: (RANK[item[0][0]], item[0])):
        against = RANK[source] >= RANK[target]
        mark = "  AGAINST THE LAYERING" if against else ""
        print(f"  {source:>11} -> {target:<11} {', '.join(sorted(via))}{mark}")
        if against:
            problems.append(f"{source} -> {target} points up the layering ({', '.join(sorted(via))})")
    print("api/ files:")
    for (source, target), via in sorted(api_edges.items()):
        print(f"  {source} -> {target}")

    for name, edges in (("module", top_edges), ("api file", api_edges)):
        for cycle in cycles({edge for edge in edges}):
            problems.append(f"{name} import circle among: {', '.join(cycle)}")

    if problems:
        print("\nlayering violations:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("layering: no circles, every edge points down")
    return 0


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each as a cycle."""
    graph: dict[str, list[str]] = {}
    for source, target in edges:
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


if __name__ == "__main__":
    sys.exit(main())
