"""Installing nbwarden auto-enables the extension; without a config it must change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import AllowAllAuthorizer


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"nbwarden": True}},
        "NBWardenExtension": {"config_file": str(tmp_path / "absent.toml")},
    }


async def test_unconfigured_extension_leaves_the_server_alone(jp_serverapp, jp_fetch):
    assert isinstance(jp_serverapp.authorizer, AllowAllAuthorizer)
    response = await jp_fetch("api", "status")
    assert response.code == 200
    with pytest.raises(Exception, match="404"):
        await jp_fetch("nbwarden", "api", "whoami")
