"""A test that needs real recordings skips saying which variable to set and what it must hold,
never a folder of the machine it ran on."""
import pytest

import real_data


@pytest.mark.parametrize("variable_set", [False, True])
def test_a_missing_sample_skip_names_the_variable_and_what_it_points_at_not_a_path(tmp_path, monkeypatch,
                                                                                    variable_set):
    folder = tmp_path / "somewhere-on-this-machine"
    monkeypatch.setattr(real_data, "CASIA_B_SAMPLES", folder)
    if variable_set:
        monkeypatch.setenv(real_data.SAMPLES_ENV, str(folder))
    else:
        monkeypatch.delenv(real_data.SAMPLES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        real_data.casia_b_sample("nm.gif")
    message = str(skipped.value)
    assert "set GAITBERT_CASIA_B_SAMPLES to a folder holding nm.gif, bg.gif, cl.gif" in message
    assert ("names has no nm.gif" if variable_set else "GAITBERT_CASIA_B_SAMPLES is not set") in message
    assert str(tmp_path) not in message and "shared" not in message and "/" not in message


def test_a_present_sample_is_returned(tmp_path, monkeypatch):
    (tmp_path / "nm.gif").write_bytes(b"GIF89a")
    monkeypatch.setattr(real_data, "CASIA_B_SAMPLES", tmp_path)
    assert real_data.casia_b_sample("nm.gif") == tmp_path / "nm.gif"
