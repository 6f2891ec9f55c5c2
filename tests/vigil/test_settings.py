import pytest
from pydantic import ValidationError

from vigil.settings import Settings


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.bus.kind, settings.media.kind, settings.mongo.url) == ("memory", "local", None)


@pytest.mark.parametrize(
    ("env", "message"),
    [({"VIGIL_BUSS": "kafka"}, "unknown settings in the environment: VIGIL_BUSS"),
     ({"VIGIL_BUS__KINDD": "kafka"}, "Extra inputs are not permitted"),
     ({"VIGIL_BUS__PARTITIONS": "0"}, "greater than or equal to 1"),
     ({"VIGIL_BUS__KIND": "rabbit"}, "Input should be 'memory' or 'kafka'"),
     ({"VIGIL_MEDIA__KIND": "s3"}, "needs VIGIL_MEDIA__ACCESS_KEY and VIGIL_MEDIA__SECRET_KEY")],
)
def test_bad_settings_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_nested_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_BUS__KIND", "kafka")
    monkeypatch.setenv("VIGIL_INGEST__ANALYSIS_FPS", "5")
    monkeypatch.setenv("VIGIL_MEDIA__KIND", "s3")
    monkeypatch.setenv("VIGIL_MEDIA__ACCESS_KEY", "a")
    monkeypatch.setenv("VIGIL_MEDIA__SECRET_KEY", "s3cr3t-value")
    settings = Settings()
    assert settings.bus.kind == "kafka" and settings.ingest.analysis_fps == 5
    assert settings.media.secret_key is not None and "s3cr3t" not in repr(settings)
