"""Reading README.md and docs/*.md for tests/test_docs.py: their links and anchors, and the shell commands in
their ```bash blocks, split into one command per `&&` step, with comments and line continuations removed."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^\s*(```|~~~)(\w*)")
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def doc_files(repo_root):
    """README.md and every page in docs/."""
    return [Path(repo_root) / "README.md", *sorted((Path(repo_root) / "docs").glob("*.md"))]


def split_fences(text):
    """(prose lines with their line numbers, [(language, code lines)]) of a Markdown text."""
    prose, blocks, block, language = [], [], None, None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if block is None and fence:
            block, language = [], fence.group(2).lower()
        elif block is not None and fence and not fence.group(2):
            blocks.append((language, block))
            block = None
        elif block is not None:
            block.append(line)
        else:
            prose.append((number, line))
    return prose, blocks


def github_slug(heading):
    """The anchor GitHub gives a heading: its text without formatting, lower case, punctuation dropped,
    spaces as hyphens."""
    text = LINK.sub(lambda m: m.group(2), heading)  # a link in a heading: its text
    text = re.sub(r"[`*_~]|<[^>]+>", lambda m: "_" if m.group(0) == "_" else "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters, digits and underscores, in any script
    return text.replace(" ", "-")


def anchors(text):
    """Every heading's anchor, the second of a name getting -1, the third -2, as on GitHub."""
    seen, result = {}, set()
    for _, line in split_fences(text)[0]:
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            result.add(slug if count == 0 else f"{slug}-{count}")
    return result


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str
    image: bool


def links(page):
    """Every Markdown link and image in the prose of `page` (not in code)."""
    found = []
    for number, line in split_fences(Path(page).read_text())[0]:
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            found.append(Link(Path(page), number, match.group(3), bool(match.group(1))))
    return found


def is_external(target):
    return re.match(r"^[a-z][a-z0-9+.-]*:", target) is not None  # http:, https:, mailto:


def link_problems(page, repo_root):
    """What is wrong with the relative links, images and anchors of `page`, one line each ([] when none)."""
    repo_root = Path(repo_root).resolve()
    problems = []
    for link in links(page):
        if is_external(link.target):
            continue
        path, _, anchor = link.target.partition("#")
        target = (link.page.parent / path).resolve() if path else link.page.resolve()
        where = f"{link.page.name}:{link.line}: {link.target}"
        if not target.is_relative_to(repo_root):
            problems.append(f"{where}: outside the repository")
        elif not target.exists():
            problems.append(f"{where}: no such file")
        elif link.image and target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"):
            problems.append(f"{where}: not an image")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target.read_text()):
            problems.append(f"{where}: no heading #{anchor} in {target.name}")
        elif anchor and target.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
    return problems


def strip_comment(line):
    """The line without its shell comment (a # at the start of a word, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def shell_commands(page):
    """The commands of the ```bash blocks of `page`: continuation lines joined, comments dropped, each
    `&&` step on its own, whitespace collapsed."""
    commands = []
    for language, lines in split_fences(Path(page).read_text())[1]:
        if language not in ("bash", "sh", "shell", "console"):
            continue
        joined, pending = [], ""
        for line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            joined.append(pending + line)
            pending = ""
        for line in joined:
            for step in strip_comment(line).split("&&"):
                step = " ".join(step.split())
                if step:
                    commands.append(step)
    return commands


@dataclass(frozen=True, order=True)
class Program:
    """What a command runs: kind `script` (a .py path), `module` (python -m), `colorize` (the console
    command, `name` its sub-command or ""), or `external` (anything else: pip, ray, ...)."""
    kind: str
    name: str


def program_of(command):
    words = shlex.split(command)
    while words and ENV_ASSIGNMENT.match(words[0]):  # TF_CONFIG=... python ...
        words = words[1:]
    if words[:1] in (["python"], ["python3"]) and len(words) > 1:
        if words[1] == "-m" and len(words) > 2:
            return Program("module", words[2])
        if words[1].endswith(".py"):
            return Program("script", words[1])
    if words[:1] == ["colorize"]:
        return Program("colorize", "app" if words[1:2] == ["app"] else "")
    return Program("external", words[0] if words else "")


def flags_of(command):
    """The --long flags a command gives (--no-x counts as --x as well, for BooleanOptionalAction)."""
    return sorted({word.split("=")[0] for word in shlex.split(command) if word.startswith("--")})


def help_texts(programs, repo_root):
    """{program: what `--help` prints} for the project's programs, all in this one process (TensorFlow is
    imported once, not once a program). Run as `python tests/docs_commands.py` by the test, in a subprocess."""
    import contextlib
    import io
    import runpy
    import sys

    texts = {}
    for program in programs:
        out = io.StringIO()
        saved_argv = sys.argv
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                if program.kind == "script":  # as `python path.py` runs it: its folder first on the path
                    script = Path(repo_root) / program.name
                    sys.argv = [program.name, "--help"]
                    sys.path.insert(0, str(script.parent))
                    try:
                        runpy.run_path(str(script), run_name="__main__")
                    finally:
                        sys.path.remove(str(script.parent))
                elif program.kind == "module":
                    sys.argv = [program.name, "--help"]
                    runpy.run_module(program.name, run_name="__main__", alter_sys=True)
                elif program.kind == "colorize":
                    sys.argv = ["colorize", *([program.name] if program.name else []), "--help"]
                    from shared import console

                    console.run()
        except SystemExit as exit:
            if exit.code not in (0, None):
                out.write(f"\n[exit code {exit.code}]")
        except Exception as error:  # reported as the program's help, so the test names the program
            out.write(f"\n[failed: {error!r}]")
        finally:
            sys.argv = saved_argv
        texts[f"{program.kind}:{program.name}"] = out.getvalue()
    return texts


if __name__ == "__main__":
    import json
    import sys

    repo = Path(__file__).resolve().parents[1]
    wanted = [Program(*spec.split(":", 1)) for spec in sys.argv[1:]]
    print(json.dumps(help_texts(wanted, repo)))
