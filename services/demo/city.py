"""The demo city, Huai'an (淮安市, 320800): its counties, units and demo people.

Unit ids follow one pattern so the unit-assignment table (bpmn/unit-assignment.dmn) can name them:
``office-city`` and ``office-<county>`` (营商办), ``assist-<county>`` (project assistants, 项目帮办),
``xzsp-<county>`` (county administrative approval bureaus, 行政审批局), ``dept-<x>`` (city departments).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.documents.models import County, Role, Unit, UnitKind

CITY_CODE = "320800"
CITY_NAME = "淮安市"

# Seven county-level divisions and the development zone (not a county, but it runs its own approvals).
COUNTIES: tuple[County, ...] = (
    County(code="320812", name="清江浦区"),
    County(code="320803", name="淮安区"),
    County(code="320804", name="淮阴区"),
    County(code="320813", name="洪泽区"),
    County(code="320826", name="涟水县"),
    County(code="320830", name="盱眙县"),
    County(code="320831", name="金湖县"),
    County(code="320871", name="淮安经济技术开发区"),
)
COUNTY_BY_CODE = {c.code: c for c in COUNTIES}

CITY_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("dept-fgw", "淮安市发展和改革委员会"),
    ("dept-zrzy", "淮安市自然资源和规划局"),
    ("dept-zjj", "淮安市住房和城乡建设局"),
    ("dept-sthj", "淮安市生态环境局"),
    ("dept-xzsp", "淮安市行政审批局"),
    ("dept-sw", "淮安市商务局"),
    ("dept-gxj", "淮安市工业和信息化局"),
    ("dept-yjj", "淮安市应急管理局"),
    ("dept-xf", "淮安市消防救援支队"),
    ("dept-gd", "国网淮安供电公司"),
)

INDUSTRIES: dict[str, str] = {
    "machinery": "装备制造", "new_energy": "新能源", "new_materials": "新材料", "electronics": "电子信息",
    "food": "绿色食品", "chemicals": "化工", "pharma": "生物医药", "logistics": "现代物流",
}

# Known demo passwords, one per role (README.md of this package lists the accounts).
DEMO_PASSWORDS: dict[Role, str] = {
    Role.ADMIN: "Admin#2024",
    Role.LEADER: "Leader#2024",
    Role.UNIT_STAFF: "Staff#2024",
    Role.INVESTOR: "Investor#2024",
    Role.PROCESS_DESIGNER: "Designer#2024",
}


def units() -> list[Unit]:
    out = [Unit(id="office-city", name="淮安市委营商办", kind=UnitKind.OFFICE)]
    for county in COUNTIES:
        out.append(Unit(id=f"office-{county.code}", name=f"{county.name}营商办", kind=UnitKind.OFFICE,
                        county_code=county.code, parent_id="office-city"))
        out.append(Unit(id=f"assist-{county.code}", name=f"{county.name}项目帮办中心", kind=UnitKind.ASSISTANT,
                        county_code=county.code, parent_id=f"office-{county.code}"))
        out.append(Unit(id=f"xzsp-{county.code}", name=f"{county.name}行政审批局", kind=UnitKind.DEPARTMENT,
                        county_code=county.code))
    out.extend(Unit(id=uid, name=name, kind=UnitKind.DEPARTMENT) for uid, name in CITY_DEPARTMENTS)
    return out


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    role: Role
    unit_ids: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕"


def person_name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)] + GIVEN[(n * 11 + 3) % len(GIVEN)]


def people(investors: int = 40) -> list[Person]:
    out = [
        Person("admin", "系统管理员", Role.ADMIN, email="admin@demo.qianliyan.cn"),
        Person("designer", "流程设计员", Role.PROCESS_DESIGNER, email="designer@demo.qianliyan.cn"),
        Person("leader.mayor", "分管副市长", Role.LEADER, phone="13905170001"),
        Person("leader.office", "市委营商办主任", Role.LEADER, ("office-city",), phone="13905170002"),
        Person("leader.fgw", "市发改委主任", Role.LEADER, ("dept-fgw",), phone="13905170003"),
    ]
    for n, unit in enumerate(units()):
        name = f"{unit.id}.staff"
        out.append(Person(name, f"{person_name(n)}（{unit.name}）", Role.UNIT_STAFF, (unit.id,),
                          phone=f"1390517{1000 + n:04d}", email=f"{name}@demo.qianliyan.cn"))
    for n in range(1, investors + 1):
        out.append(Person(f"investor{n:02d}", f"{person_name(n + 100)}（投资方）", Role.INVESTOR,
                          phone=f"1380517{n:04d}"))
    return out
