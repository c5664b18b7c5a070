"""The command line when its surroundings misbehave: a reader that goes away, a strings file that is not text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]
NACL = "Na Cl 0 1 --- 0 1 o-- 0 1 o-o 0 1 oo- 0 1 ooo 0 1 +oo"


def test_a_closed_pipe_stops_the_command_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "canonical", "-"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(((NACL + "\n") * 20000).encode())
    proc.stdin.close()
    assert proc.stdout.readline().decode().strip() == NACL
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_strings_file_that_is_not_text(tmp_path, capsys):
    path = tmp_path / "strings.txt"
    path.write_bytes(b"\xff\xfe\x00binary\n")
    code = main(["generate", "--strings", str(path), "--out", str(tmp_path / "o"), "--train-data", "none",
                 "--no-known-materials", "--no-progress"])
    assert code == 1
    assert f"--strings {path} is not UTF-8 text (byte 0)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before the run folder is made
