"""The signature checks shown to receivers in docs/webhooks.md, run against a real delivery:
the Python one as written, the TypeScript one with `node` (its type annotations stripped;
skipped when node is not installed)."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import ROOT
from tests.webhooks.support import Received, Receiver, Rig

GUIDE = ROOT / "docs" / "webhooks.md"


def _snippet(language: str) -> str:
    (code,) = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)
    return str(code)


async def _delivered(rig: Rig, receiver: Receiver) -> tuple[str, Received]:
    endpoint = await rig.endpoint(receiver.url)
    await rig.emit(1)
    rig.sender()
    await rig.dispatch()
    await rig.flush()
    (received,) = receiver.received
    return endpoint["secret"], received


def _python_check() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(_snippet("python"), str(GUIDE), "exec"), namespace)  # noqa: S102
    return namespace["verify_cartwright_signature"]


async def test_the_python_snippet_verifies_a_real_delivery(rig: Rig, receiver: Receiver) -> None:
    secret, received = await _delivered(rig, receiver)
    check = _python_check()
    now = received.at
    assert check(secret, received.signature, received.body, now=now)
    assert not check(secret, received.signature, received.body + b"\n", now=now)
    assert not check("whsec_other", received.signature, received.body, now=now)
    assert not check(secret, received.signature, received.body, now=now + 301)


def _javascript() -> str:
    """The TypeScript snippet as JavaScript: its annotations removed."""
    code = _snippet("typescript")
    code = re.sub(r"\): boolean \{", ") {", code)
    code = re.sub(r"let timestamp: number \| undefined;", "let timestamp;", code)
    code = re.sub(r"const signatures: string\[\] = \[\];", "const signatures = [];", code)
    code = re.sub(r"(\w+): (?:string|Buffer)([,)])", r"\1\2", code)
    parameters = code.split("verifyCartwrightSignature(", 1)[1].split(") {", 1)[0]
    assert ":" not in parameters and ": number" not in code and ": string" not in code
    return code


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_typescript_snippet_verifies_a_real_delivery(
    rig: Rig, receiver: Receiver, tmp_path: Path
) -> None:
    secret, received = await _delivered(rig, receiver)
    module = tmp_path / "verify.mjs"
    module.write_text(_javascript())
    cases = [
        (secret, received.body, received.at, True),
        (secret, received.body + b"\n", received.at, False),
        ("whsec_other", received.body, received.at, False),
        (secret, received.body, received.at + 301, False),
    ]
    runner = tmp_path / "run.mjs"
    runner.write_text(
        'import { verifyCartwrightSignature } from "./verify.mjs";\n'
        'import { readFileSync } from "node:fs";\n'
        "const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));\n"
        "console.log(JSON.stringify(cases.map(([secret, header, body, now]) =>"
        " verifyCartwrightSignature(secret, header, Buffer.from(body, 'base64'), 300, now))));\n"
    )
    data = tmp_path / "cases.json"
    data.write_bytes(
        orjson.dumps(
            [[s, received.signature, base64.b64encode(b).decode(), at] for s, b, at, _ in cases]
        )
    )
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node, str(runner), str(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert orjson.loads(stdout) == [expected for *_, expected in cases]
