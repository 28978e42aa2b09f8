"""Shell completion (mvtools/completion.py, docs/completion.md), tested for real: the script
`mvtools completion SHELL` prints is loaded into bash (and fish, when installed) and asked
to complete a command line, as the shell does on Tab. zsh completes inside a real
interactive zsh on a pseudo-terminal (zsh/zpty): Tab is typed, compinit runs the script's
completion function, and the candidates it hands to compadd are captured."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import commit_model, git, mvtools

SHELLS = ("bash", "zsh", "fish")


def script(r: Path, shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"mvtools.{shell}"
    path.write_text(mvtools(r, "completion", shell).stdout)
    return path


def bash_complete(r: Path, line: str, tmp_path: Path) -> list[str]:
    """What bash offers on Tab at the end of ``line``: the completion function the
    generated script registers, called as bash's programmable completion calls it."""
    code = (f'source {script(r, "bash", tmp_path)}\n'
            'COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}\n'
            'read -r -a COMP_WORDS <<< "$COMP_LINE"\n'
            '[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")\n'
            'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
            '$(complete -p mvtools | sed "s/.*-F \\([^ ]*\\) .*/\\1/") mvtools\n'
            'printf "%s\\n" "${COMPREPLY[@]}"\n')
    proc = subprocess.run(["bash", "-c", code], cwd=r, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LINE": line})
    assert proc.returncode == 0, proc.stderr
    return [w.strip() for w in proc.stdout.splitlines() if w.strip()]


def protocol_complete(r: Path, line: str, tmp_path: Path, *extra: str) -> list[str]:
    """argcomplete's own protocol, without a shell: what `mvtools` answers the script."""
    out = tmp_path / "answer"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": "bash", "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "COMP_TYPE": "9", "_ARGCOMPLETE_IFS": "\n",
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    proc = subprocess.run([sys.executable, *extra, "-m", "mvtools"], cwd=r, capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return [w.strip() for w in out.read_text().split("\n") if w.strip()]


# zsh: compadd is wrapped to print each candidate it is given; \0 lines (compprefuncs and
# comppostfuncs) frame the answer, and the inner shell exits once it is given.
ZSH_CAPTURE = r"""PROMPT=
autoload -Uz compinit
compinit -u -D
bindkey '^I' complete-word
null-line () { echo -E - $'\0' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd () {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    typeset -a __hits
    builtin compadd -A __hits "$@"
    (( $#__hits )) && print -rl -- "<HIT>"${^__hits}
}
"""
ZSH_DRIVE = r"""zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z "fpath=(${(q)1} \$fpath); source ${(q)1}/capture.zsh; cd ${(q)2}"
zpty -n -w z "${3}"$'\t'
integer framed=0
while zpty -r z; do :; done | while IFS= read -r line; do
  if [[ $line == *$'\0'* ]]; then (( framed++ )) && break || continue; fi
  (( framed )) && print -r -- "$line"
done
zpty -d z
"""


def zsh_complete(r: Path, line: str, tmp_path: Path, how: str = "fpath") -> list[str]:
    """What zsh offers on Tab at the end of ``line``, typed into an interactive zsh that
    installed ``mvtools completion zsh`` as docs/completion.md says: as ``_mvtools`` in a
    directory of $fpath (``how="fpath"``), or by ``eval`` after compinit (``how="eval"``)."""
    d = tmp_path / f"zsh-{how}"
    d.mkdir(exist_ok=True)
    if how == "fpath":
        (d / "_mvtools").write_text(mvtools(r, "completion", "zsh").stdout)
    (d / "capture.zsh").write_text(ZSH_CAPTURE + ('eval "$(mvtools completion zsh)"\n' if how == "eval" else ""))
    (d / "drive.zsh").write_text(ZSH_DRIVE)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["zsh", "-f", str(d / "drive.zsh"), str(d), str(r), line], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return [w.strip().removeprefix("<HIT>") for w in proc.stdout.splitlines() if w.strip().startswith("<HIT>")]


@pytest.fixture
def registered(git_model_repo: Path) -> Path:
    """clf with v0.1.0 and v0.1.1, v0.1.0 in staging; environments prod and qa."""
    r = git_model_repo
    commit_model(r, "weights-1", "v1")
    commit_model(r, "weights-2", "v2")
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text() + "environments:\n  prod: {}\n  qa: {}\n")
    git(r, "commit", "-qam", "environments")
    return r


@pytest.mark.parametrize("shell", SHELLS)
def test_scripts_are_valid_shell(repo: Path, tmp_path: Path, shell: str) -> None:
    path = script(repo, shell, tmp_path)
    assert "mvtools" in path.read_text()
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here (.ci/run installs it): only generated, not checked")
    proc = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_bash_completes_commands_and_options(repo: Path, tmp_path: Path) -> None:
    assert bash_complete(repo, "mvtools pro", tmp_path) == ["promote"]
    assert sorted(bash_complete(repo, "mvtools deploy st", tmp_path)) == ["start", "status", "step"]
    assert bash_complete(repo, "mvtools deploy start --str", tmp_path) == ["--strategy"]
    assert bash_complete(repo, "mvtools deploy start --strategy ", tmp_path) == ["blue-green", "canary"]
    assert sorted(bash_complete(repo, "mvtools completion ", tmp_path)) == ["bash", "fish", "zsh"]


def test_bash_completes_the_registry(registered: Path, tmp_path: Path) -> None:
    r = registered
    assert bash_complete(r, "mvtools promote c", tmp_path) == ["clf"]
    assert bash_complete(r, "mvtools promote clf ", tmp_path) == ["v0.1.1", "v0.1.0", "latest"]
    assert bash_complete(r, "mvtools promote clf v0.1.1 ", tmp_path) == ["development", "staging", "production"]
    assert bash_complete(r, "mvtools rollback clf --stage pro", tmp_path) == ["production"]
    assert bash_complete(r, "mvtools deploy start clf latest --env ", tmp_path) == ["prod", "qa"]


def test_specs_complete_versions_and_stages(registered: Path, tmp_path: Path) -> None:
    r = registered
    assert protocol_complete(r, "mvtools get clf@", tmp_path) == ["clf@v0.1.1", "clf@v0.1.0", "clf@latest"]
    # NAME#STAGE is not completed: argcomplete's lexer reads `#` as a comment (docs/completion.md)
    assert protocol_complete(r, "mvtools compare clf v0.1.0 s", tmp_path) == ["staging"]
    # -C PATH: the registry of PATH, from anywhere
    assert protocol_complete(tmp_path, f"mvtools -C {r} history ", tmp_path) == ["clf"]


def test_completion_outside_a_registry_offers_nothing(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert protocol_complete(tmp_path / "plain", "mvtools promote ", tmp_path) == []
    (tmp_path / "mvtools.yaml").write_text("stages: [")  # broken: still no traceback, no answer
    assert protocol_complete(tmp_path, "mvtools promote clf v1 ", tmp_path) == []


def test_completion_imports_no_dvc_or_networkx(registered: Path, tmp_path: Path) -> None:
    """Tab must be fast: answering it never imports DVC or networkx (python -X importtime
    lists every module the process imported)."""
    out = tmp_path / "answer"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": "bash", "COMP_LINE": "mvtools promote clf ",
           "COMP_POINT": "20", "_ARGCOMPLETE_IFS": "\n", "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mvtools"], cwd=registered,
                          capture_output=True, text=True, timeout=60, env=env)
    assert "v0.1.1" in out.read_text()
    modules = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "mvtools" in modules and "argcomplete" in modules
    assert not modules & {"dvc", "networkx", "rich", "gto"}, sorted(modules & {"dvc", "networkx", "rich", "gto"})


def test_fish_completes_for_real(registered: Path, tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed here (.ci/run installs it)")
    path = script(registered, "fish", tmp_path)
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete -C 'mvtools promote clf '"],
                          cwd=registered, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(w.split("\t")[0] for w in proc.stdout.splitlines()) == ["latest", "v0.1.0", "v0.1.1"], proc.stdout


@pytest.mark.parametrize("how", ["fpath", "eval"])
def test_zsh_completes_for_real(registered: Path, tmp_path: Path, how: str) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed here (.ci/run installs it)")
    r = registered
    if how == "eval":
        assert zsh_complete(r, "mvtools promote clf ", tmp_path, how) == ["v0.1.1", "v0.1.0", "latest"]
        assert zsh_complete(r, "mvtools deploy st", tmp_path, how) == ["start", "step", "status"]
        return
    assert zsh_complete(r, "mvtools pro", tmp_path) == ["promote"]
    assert zsh_complete(r, "mvtools deploy st", tmp_path) == ["start", "step", "status"]
    assert zsh_complete(r, "mvtools deploy start --str", tmp_path) == ["--strategy"]
    assert zsh_complete(r, "mvtools promote clf ", tmp_path) == ["v0.1.1", "v0.1.0", "latest"]
    assert zsh_complete(r, "mvtools promote clf v0.1.1 ", tmp_path) == ["development", "staging", "production"]
    assert zsh_complete(r, "mvtools get clf@", tmp_path) == ["clf@v0.1.1", "clf@v0.1.0", "clf@latest"]
    assert zsh_complete(r, "mvtools deploy start clf latest --env ", tmp_path) == ["prod", "qa"]
    (tmp_path / "plain").mkdir()  # outside a repository: nothing, and no error on the terminal
    assert zsh_complete(tmp_path / "plain", "mvtools promote ", tmp_path) == []


def test_tab_on_a_ledger_that_never_ends_offers_nothing_at_once(registered: Path, tmp_path: Path) -> None:
    """registry/clf.yaml a symlink to /dev/zero (a cloned repository can hold one) or a FIFO:
    Tab read it forever; now the versions' completer offers nothing, the models' still work."""
    ledger = registered / "registry" / "clf.yaml"
    ledger.unlink()
    ledger.symlink_to("/dev/zero")
    assert protocol_complete(registered, "mvtools promote clf ", tmp_path) == []
    ledger.unlink()
    os.mkfifo(ledger)
    assert protocol_complete(registered, "mvtools promote clf ", tmp_path) == []
    assert protocol_complete(registered, "mvtools promote c", tmp_path) == ["clf"]
