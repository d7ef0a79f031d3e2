"""Names of county-level divisions, used when an import row gives only the code.

The demo city's divisions ship here; another city's are learned from its projects (the first project of a
county names it) or given in the import's county_name column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.context import Services

KNOWN_COUNTIES: dict[str, str] = {
    "320812": "清江浦区",
    "320803": "淮安区",
    "320804": "淮阴区",
    "320813": "洪泽区",
    "320826": "涟水县",
    "320830": "盱眙县",
    "320831": "金湖县",
    "320871": "淮安经济技术开发区",
}


async def county_names(services: Services, codes: set[str] | None = None) -> dict[str, str]:
    """Names of ``codes`` (or of the known ones): the table above, else the name a project of the county uses."""
    from shared.documents.models import PageRequest, ProjectFilter

    names = dict(KNOWN_COUNTIES)
    for code in sorted((codes or set()) - set(names)):
        found = await services.store.projects.list(ProjectFilter(county_code=code), PageRequest(page=1, size=1))
        if found.items:
            names[code] = found.items[0].county.name
    return names
