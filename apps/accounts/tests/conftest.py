import pytest

from apps.flows.tests.conftest import ed_client, editor, shop  # noqa: F401


@pytest.fixture
def lexicons(shop):  # noqa: F811
    """A synonym, a regex and a lookup table, for the NLU tabs that list them."""
    from apps.nlu.models import LookupTable, Regex, Synonym

    Synonym.objects.create(assistant=shop, name="Berlin", examples=["berlin", "BER"])
    Regex.objects.create(assistant=shop, name="zip", examples=["[0-9]{5}"])
    LookupTable.objects.create(assistant=shop, name="city", examples=["Berlin", "Paris"])
