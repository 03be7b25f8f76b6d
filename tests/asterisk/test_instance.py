from __future__ import annotations

from robocall.telephony.asterisk.instance import AsteriskProcess


def test_asterisk_boots_from_the_templates_with_the_modules_robocall_needs(asterisk: AsteriskProcess) -> None:
    assert "Asterisk 20" in asterisk.rx("core show version")
    for module in ("chan_sip", "res_agi", "app_amd", "app_senddtmf", "format_wav", "pbx_config"):
        assert "Running" in asterisk.rx(f"module show like {module}"), module
    contexts = asterisk.rx("dialplan show robocall-outbound")
    assert "AMD()" in contexts and "AGI(${ROBOCALL_AGI}/outbound)" in contexts
    assert "robocall" in asterisk.rx("manager show users")


def test_stop_ends_the_process_by_its_pid(asterisk: AsteriskProcess) -> None:
    asterisk.stop()
    assert asterisk.process is not None and asterisk.process.returncode == 0
    assert not asterisk.layout.control_socket.exists()
