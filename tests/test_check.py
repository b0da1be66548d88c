"""What `check` says of the spot before a run: its size as what it is (FWHM or diameter),
the textbook estimate of its temperature with a melting warning, and a pre-load that the
estimate puts above the spot's limit."""

import pytest
from cases import reflection
from test_case import write_toml

from anodesim.case import from_dict
from anodesim.cli import main


@pytest.mark.parametrize("beam, says", [
    ({"spot": "flat_top", "fwhm_um": None, "diameter_um": 40.0}, "spot flat_top, diameter 40 µm;"),
    ({"fwhm_um": 20.0}, "spot gaussian, FWHM 20 µm;"),
    # an X-ray spot size under a standard: the beam's FWHM (5 / 1.0885) and what was given
    ({"fwhm_um": 5.0, "size_definition": "en12543-5"},
     "spot gaussian, FWHM 4.594 µm; given as 5 µm en12543-5;"),
    ({"spot": "flat_top", "fwhm_um": None, "diameter_um": 40.0, "size_definition": "iec60336"},
     "spot flat_top, diameter 40.46 µm; given as 40 µm iec60336;"),
])
def test_check_names_the_spot_size_for_what_it_is(tmp_path, capsys, beam, says):
    """A flat top's diameter was labelled "(fwhm)", and a size given under a standard was
    shown converted (the beam's FWHM) beside the standard's name, as if it were that size."""
    path = write_toml(tmp_path / "c.toml", reflection(beam=beam))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert says in out, out
    assert "(fwhm)" not in out


def test_the_report_names_the_spot_size_for_what_it_is():
    from anodesim.report import case_sections

    case = from_dict(reflection(beam={"spot": "flat_top", "fwhm_um": None,
                                      "diameter_um": 40.0})).to_dict()
    beam = dict(dict(case_sections(case))["Beam"])
    assert beam["spot"] == "flat_top, diameter 40 µm", beam
