"""The Dockerfile parser, the shell lexer, .dockerignore and ARG scope: pure, no root."""

from __future__ import annotations

import pytest

from lamina.build.args import BuildArgs
from lamina.build.context import is_git_url, parse_git_url
from lamina.build.dockerignore import read_dockerignore
from lamina.build.gofmt import go_duration, go_quote_list, parse_go_duration_ns
from lamina.build.parser import DockerfileError, parse
from lamina.build.shell import ExpansionError, ShellLex


def nodes(text: str):
    return parse(text).nodes


def test_comments_continuations_and_case():
    df = parse("# a comment\nfrom busybox\n\nRun echo a \\\n  # inside\n\n   && echo b\ncmd echo\n")
    assert [n.instruction for n in df.nodes] == ["from", "run", "cmd"]
    run = df.nodes[1]
    assert run.args == ["echo a    && echo b"]
    assert (run.start_line, run.end_line) == (4, 7)
    assert df.warnings and "empty continuation line" in df.warnings[0]


def test_directives_escape_and_syntax():
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\n")
    assert df.syntax == "docker/dockerfile:1"
    assert df.escape == "`"
    assert df.nodes[1].args == ["a  b"]


def test_directive_after_comment_is_a_comment():
    df = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n")
    assert df.escape == "\\"
    assert df.nodes[1].args == ["a  b"]


def test_bad_escape_and_duplicate_directive():
    with pytest.raises(DockerfileError, match="invalid escape token"):
        parse("# escape=x\nFROM a\n")
    with pytest.raises(DockerfileError, match="only one escape"):
        parse("# escape=`\n# escape=\\\nFROM a\n")


def test_exec_and_shell_forms():
    cmd, run, entry, bad = nodes('CMD ["a", "b c"]\nRUN [ "x" ]\nENTRYPOINT [not json\nSHELL ["/bin/bash", "-c"]\n')
    assert cmd.json and cmd.args == ["a", "b c"]
    assert run.json and run.args == ["x"]
    assert not entry.json and entry.args == ["[not json"]
    assert bad.json and bad.args == ["/bin/bash", "-c"]
    with pytest.raises(DockerfileError, match="Dockerfile:1: .*array of strings"):
        parse('CMD ["a", 1]\n')


def test_env_and_label_forms():
    env_old, env_new, label = nodes('ENV A b c  d\nENV A=1 B="x y" C=a\\ b\nLABEL "k"="v" k2=v2\n')
    assert env_old.args == ["A", "b c  d"]
    assert env_new.args == ["A", "1", "B", '"x y"', "C", "a\\ b"]
    assert label.args == ['"k"', '"v"', "k2", "v2"]
    with pytest.raises(DockerfileError, match="Dockerfile:1: ENV must have two arguments"):
        parse("ENV onlyname\n")
    with pytest.raises(DockerfileError, match="can't find ="):
        parse("ENV a=1 b\n")


def test_flags_and_unknown_instruction():
    copy = nodes("COPY --chown=1:2 --from=build a /b/\n")[0]
    assert copy.flags == ["--chown=1:2", "--from=build"]
    assert copy.args == ["a", "/b/"]
    with pytest.raises(DockerfileError, match=r"^Df:3: unknown instruction: BOGUS"):
        parse("FROM a\n\nbogus x\n", "Df")


def test_heredocs():
    run, copy = nodes('RUN <<EOF\necho a\necho b\nEOF\nCOPY <<"END" /f\n$X\nEND\n')
    assert run.heredocs[0].content == "echo a\necho b\n" and run.heredocs[0].expand
    assert copy.heredocs[0].name == "END" and not copy.heredocs[0].expand
    assert (copy.start_line, copy.end_line) == (5, 7)
    strip = nodes("RUN <<-EOF\n\techo x\n\tEOF\n")[0]
    assert strip.heredocs[0].content == "echo x\n"
    with pytest.raises(DockerfileError, match="unterminated heredoc"):
        parse("RUN <<EOF\necho\n")


def test_onbuild_refuses_from_maintainer_onbuild():
    for word in ("FROM x", "MAINTAINER me", "ONBUILD RUN x"):
        with pytest.raises(DockerfileError):
            parse(f"ONBUILD {word}\n")
    node = nodes("ONBUILD ADD . /app\n")[0]
    assert node.next.instruction == "add"


@pytest.mark.parametrize(
    "word,expected",
    [
        ("$V", "v"),
        ("${V}/x", "v/x"),
        ("${E:-def}", "def"),
        ("${E-def}", ""),
        ("${U-def}", "def"),
        ("${V:+set}", "set"),
        ("${E:+set}", ""),
        (r"\$V", "$V"),
        ("'$V'", "$V"),
        ('"$V a"', "v a"),
        (r'"a\"b"', 'a"b'),
        (r'"a\b"', r"a\b"),
        (r"a\ b", "a b"),
        ("$", "$"),
        ("$U", ""),
    ],
)
def test_expansion(word, expected):
    assert ShellLex().process_word(word, {"V": "v", "E": ""}) == expected


def test_expansion_words_and_errors():
    lex = ShellLex()
    assert lex.process_words('a "b c" $V', {"V": "x y"}) == ["a", "b c", "x", "y"]
    with pytest.raises(ExpansionError):
        lex.process_word("${V", {})
    with pytest.raises(ExpansionError, match="is not allowed to be unset|must"):
        lex.process_word("${U:?}", {})
    assert ShellLex("`").process_word("a`$b", {"b": "x"}) == "a$b"


@pytest.mark.parametrize(
    "patterns,path,ignored",
    [
        (["*.md"], "README.md", True),
        (["*.md"], "docs/README.md", False),
        (["**/*.md"], "docs/a/README.md", True),
        (["docs"], "docs/a/b", True),
        (["docs", "!docs/keep"], "docs/keep", False),
        (["docs", "!docs/keep"], "docs/other", True),
        (["!docs/keep", "docs"], "docs/keep", True),
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["/abs/./x"], "abs/x", True),
        (["[a-c]*"], "bz", True),
        (["[!a]*"], "az", False),
        (["**"], "anything/at/all", True),
        (["x/**"], "x/y/z", True),
        (["x/**/z"], "x/z", True),
        (["file.tx\\t"], "file.txt", True),
        ([".git"], ".git/HEAD", True),
    ],
)
def test_dockerignore(patterns, path, ignored):
    assert read_dockerignore("\n".join(patterns)).ignored(path) is ignored


def test_dockerignore_comments_and_blank():
    m = read_dockerignore("# comment\n\n  node_modules  \n")
    assert m.ignored("node_modules/x") and not m.ignored("# comment")


def test_arg_scope():
    args = BuildArgs({"V": "cli", "HTTP_PROXY": "http://p", "UNUSED": "x"})
    args.add_meta("V", "meta")
    args.add_meta("BASE", "busybox")
    assert args.meta_env() == {"V": "cli", "BASE": "busybox"}
    args.reset_stage()
    assert "BASE" not in args.stage_env()
    args.add("BASE", None)  # re-declared in the stage: takes the meta value
    args.add("D", "default")
    env = args.stage_env()
    assert env["BASE"] == "busybox" and env["D"] == "default" and env["HTTP_PROXY"] == "http://p"
    assert "HTTP_PROXY=http://p" in args.run_env([])
    assert all(not e.startswith("HTTP_PROXY") for e in args.cache_env([]))
    assert args.run_env(["D=env"]) == ["BASE=busybox", "HTTP_PROXY=http://p"]
    assert args.unconsumed() == ["UNUSED"]


def test_git_urls():
    assert is_git_url("https://example.com/r.git#main:sub")
    assert is_git_url("file:///tmp/repo")
    assert is_git_url("github.com/user/repo")
    assert not is_git_url("https://example.com/ctx.tar.gz")
    assert parse_git_url("file:///r#mytag:dir") == parse_git_url("file:///r#mytag:dir")
    ref = parse_git_url("file:///r#:myfolder")
    assert (ref.remote, ref.ref, ref.subdir) == ("file:///r", "", "myfolder")
    ref = parse_git_url("https://h/r.git#abcdef")
    assert (ref.ref, ref.subdir) == ("abcdef", "")


def test_go_formatting():
    assert go_quote_list(["/bin/sh", "-c", 'echo "hi"']) == '["/bin/sh" "-c" "echo \\"hi\\""]'
    assert go_duration(parse_go_duration_ns("5m")) == "5m0s"
    assert go_duration(parse_go_duration_ns("3s")) == "3s"
    assert go_duration(parse_go_duration_ns("1h30m")) == "1h30m0s"
    assert go_duration(parse_go_duration_ns("1.5s")) == "1.5s"
    assert go_duration(parse_go_duration_ns("300ms")) == "300ms"
    with pytest.raises(ValueError):
        parse_go_duration_ns("5x")
