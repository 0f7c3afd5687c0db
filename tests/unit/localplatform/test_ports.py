"""A state directory keeps its ports: a restart of `make dev` keeps the URLs in dev.env."""

from __future__ import annotations

from pathlib import Path

from localplatform import stack


def test_a_restart_of_the_same_state_directory_keeps_its_ports(tmp_path: Path) -> None:
    first = stack.Platform(tmp_path)
    chosen = {name: first.port(name) for name in ("postgres", "operator-metrics")}
    again = stack.Platform(tmp_path)
    assert {name: again.port(name) for name in chosen} == chosen
    elsewhere = stack.Platform(tmp_path / "other")
    assert elsewhere.port("postgres") != 0


def test_a_preferred_port_comes_first(tmp_path: Path) -> None:
    stack.Platform(tmp_path).port("api")
    preferred = stack.Platform(tmp_path / "x").port("probe")  # some free port
    platform = stack.Platform(tmp_path, preferred_ports={"api": preferred})
    assert platform.port("api") == preferred
