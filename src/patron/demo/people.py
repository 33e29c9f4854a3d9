"""Who the demo members are: names, contact details, birthdays, addresses, tastes and consent.

Profiles are drawn per block as numpy index arrays (cheap, deterministic per block) and turned
into rows one person at a time, only when the stream reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from patron.demo.catalogue import CATEGORIES, PHYSICAL_STORES
from patron.demo.model import STREAM_PROFILE, Customers, Kind, block_rng

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Common surnames with their rough frequency (per cent of the population) and pinyin.
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.1),
    ("李", "li", 7.0),
    ("张", "zhang", 6.7),
    ("刘", "liu", 5.4),
    ("陈", "chen", 4.5),
    ("杨", "yang", 3.1),
    ("黄", "huang", 2.2),
    ("赵", "zhao", 2.0),
    ("吴", "wu", 2.0),
    ("周", "zhou", 1.9),
    ("徐", "xu", 1.7),
    ("孙", "sun", 1.5),
    ("马", "ma", 1.5),
    ("朱", "zhu", 1.3),
    ("胡", "hu", 1.3),
    ("郭", "guo", 1.2),
    ("何", "he", 1.2),
    ("林", "lin", 1.0),
    ("高", "gao", 1.0),
    ("罗", "luo", 0.9),
    ("郑", "zheng", 0.9),
    ("梁", "liang", 0.8),
    ("谢", "xie", 0.7),
    ("宋", "song", 0.6),
    ("唐", "tang", 0.6),
    ("许", "xu", 0.6),
    ("沈", "shen", 0.5),
    ("顾", "gu", 0.3),
    ("陆", "lu", 0.4),
    ("钱", "qian", 0.2),
    ("蒋", "jiang", 0.5),
    ("叶", "ye", 0.4),
)
GIVEN_FEMALE: tuple[tuple[str, str], ...] = (
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("悦", "yue"),
    ("欣怡", "xinyi"),
    ("雨萱", "yuxuan"),
    ("梓涵", "zihan"),
    ("诗雨", "shiyu"),
    ("佳慧", "jiahui"),
    ("晓燕", "xiaoyan"),
    ("美玲", "meiling"),
    ("思琪", "siqi"),
    ("若兰", "ruolan"),
    ("婉清", "wanqing"),
    ("慧", "hui"),
)
GIVEN_MALE: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("浩然", "haoran"),
    ("子轩", "zixuan"),
    ("宇航", "yuhang"),
    ("俊杰", "junjie"),
    ("建国", "jianguo"),
    ("志强", "zhiqiang"),
    ("文博", "wenbo"),
    ("嘉诚", "jiacheng"),
    ("一鸣", "yiming"),
    ("斌", "bin"),
)
EN_FIRST_FEMALE = ("Emma", "Olivia", "Sophie", "Grace", "Chloe", "Amelia", "Hannah", "Lucy")
EN_FIRST_MALE = ("James", "Oliver", "Daniel", "Thomas", "Lucas", "Henry", "Samuel", "Jack")
EN_LAST = ("Smith", "Brown", "Wilson", "Taylor", "Martin", "Walker", "Fischer", "Dubois", "Rossi")
CN_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "outlook.com", "foxmail.com")
EN_EMAIL_DOMAINS = ("gmail.com", "outlook.com", "icloud.com", "yahoo.com")
MOBILE_PREFIXES = (
    "138",
    "139",
    "135",
    "136",
    "137",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "133",
    "153",
    "180",
    "189",
    "177",
    "199",
)
# Districts of the store cities; online customers live anywhere.
DISTRICTS: dict[str, tuple[str, ...]] = {
    "Shanghai": ("静安区", "徐汇区", "黄浦区", "长宁区", "浦东新区", "杨浦区"),
    "Hangzhou": ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区"),
    "Suzhou": ("姑苏区", "工业园区", "吴中区", "虎丘区"),
    "Beijing": ("朝阳区", "海淀区", "东城区"),
    "Shenzhen": ("南山区", "福田区"),
    "Chengdu": ("锦江区", "武侯区"),
    "Guangzhou": ("天河区", "越秀区"),
}
POSTCODES = {
    "Shanghai": "200040",
    "Hangzhou": "310007",
    "Suzhou": "215000",
    "Beijing": "100020",
    "Shenzhen": "518000",
    "Chengdu": "610041",
    "Guangzhou": "510000",
}
CITY_OF_STORE = tuple(s.city for s in PHYSICAL_STORES)
FAR_CITIES = ("Beijing", "Shenzhen", "Chengdu", "Guangzhou")
STREETS = ("南京西路", "延安中路", "北山街", "平江路", "淮海中路", "文三路", "干将路", "中山路")
STYLES = ("traditional", "minimalist", "modern", "rustic", "elegant", "playful")
COLOURS = ("red", "green", "white", "black", "blue", "gold", "celadon", "purple")
CONSENT_CHANNELS = ("email", "sms", "whatsapp", "wechat", "in_app")
CONSENT_SOURCES = ("in-store sign-up", "online checkout", "WeChat mini-program", "portal settings")
NOTE_CHANNELS = ("in_store", "phone", "wechat", "email")
NOTES = (
    "Asked about the difference between Longjing grades; recommended the 100g tin.",
    "顾客想买送长辈的礼盒，推荐了寿礼礼盒。",
    "Complained the gaiwan lid chipped in delivery; replaced it, apologised.",
    "喜欢浓香型铁观音，下次到货请通知。",
    "Buys corporate gift boxes every Mid-Autumn; wants an invoice with company title.",
    "Prefers WeChat for messages, not phone calls.",
    "对咖啡因敏感，推荐了花草茶。",
    "Interested in the tea ceremony class on Saturdays.",
    "Asked us to hold a Yixing teapot until payday.",
    "生日在月底，记得送小礼物。",
)
STAFF = ("Lin Yue 林悦", "Zhou Min 周敏", "Chen Hao 陈浩", "Amy Xu 徐佳")


@dataclass(frozen=True)
class Profiles:
    """Profile draws of one block, aligned with its :class:`Customers`."""

    female: BoolArray
    english: BoolArray
    surname: IntArray
    given: IntArray
    birthday: IntArray  # days since 1940-01-01, -1 = not given
    city: IntArray  # index into DISTRICTS keys
    district: IntArray
    street_no: IntArray
    has_email: BoolArray
    email_domain: IntArray
    phone_prefix: IntArray
    styles: IntArray  # (n, 2), -1 = none
    colours: IntArray  # (n, 2)
    consent: BoolArray  # (n, 5) per CONSENT_CHANNELS
    consent_source: IntArray
    signed_up_early: FloatArray  # days between sign-up and first purchase (0 = at the till)
    note_count: IntArray
    note_pick: IntArray  # (n, 3) indices into NOTES
    vip: BoolArray


_CITIES = tuple(DISTRICTS)


def _pick_two(rng: np.random.Generator, n: int, choices: int) -> IntArray:
    picks = rng.integers(0, choices, size=(n, 2))
    picks[:, 1] = np.where((picks[:, 1] == picks[:, 0]) | (rng.random(n) < 0.4), -1, picks[:, 1])
    return picks


def profiles(seed: int, block: int, c: Customers) -> Profiles:
    """The profile draws for every person of a block (deterministic in seed and block)."""
    rng = block_rng(seed, block, STREAM_PROFILE)
    n = c.size
    english = rng.random(n) < 0.12
    female = rng.random(n) < 0.62
    weights = np.array([s[2] for s in SURNAMES])
    surname = rng.choice(len(SURNAMES), size=n, p=weights / weights.sum())
    surname = np.where(english, rng.integers(0, len(EN_LAST), n), surname)
    given = np.where(english, rng.integers(0, len(EN_FIRST_MALE), n), rng.integers(0, 20, n))
    age_days = (rng.gamma(6.0, 6.5, n) + 18.0) * 365.25
    far = (c.online_share > 0.7) & (rng.random(n) < 0.6)
    home_city = np.array([_CITIES.index(CITY_OF_STORE[s]) for s in c.home_store], dtype=np.int64)
    far_city = rng.choice([_CITIES.index(x) for x in FAR_CITIES], size=n)
    city = np.where(far, far_city, home_city)
    consent = rng.random((n, len(CONSENT_CHANNELS))) < np.array([0.45, 0.7, 0.08, 0.75, 0.85])
    consent[:, 2] |= english & (rng.random(n) < 0.5)  # foreigners use WhatsApp
    return Profiles(
        female=female,
        english=english,
        surname=surname,
        given=given,
        birthday=np.where(
            rng.random(n) < 0.8, (date(2026, 1, 1) - date(1940, 1, 1)).days - age_days, -1
        ).astype(np.int64),
        city=city,
        district=rng.integers(0, 100, n),
        street_no=rng.integers(1, 999, n),
        has_email=rng.random(n) < np.where(english, 0.95, 0.6),
        email_domain=rng.integers(0, 100, n),
        phone_prefix=rng.integers(0, len(MOBILE_PREFIXES), n),
        styles=_pick_two(rng, n, len(STYLES)),
        colours=_pick_two(rng, n, len(COLOURS)),
        consent=consent,
        consent_source=rng.integers(0, len(CONSENT_SOURCES), n),
        signed_up_early=np.where(rng.random(n) < 0.25, rng.exponential(12.0, n) + 0.5, 0.0),
        note_count=rng.choice(4, size=n, p=[0.8, 0.12, 0.06, 0.02]),
        note_pick=rng.integers(0, len(NOTES), size=(n, 3)),
        vip=rng.random(n) < 0.03,
    )


def phone_of(index: int, prefix: int) -> str:
    """A unique mobile number per person: an affine bijection of the index over 8 digits."""
    return f"+86{MOBILE_PREFIXES[prefix]}{(index * 7_919 + 10_234_567) % 100_000_000:08d}"


@dataclass(frozen=True)
class Person:
    """One member's profile in the shape the rows want."""

    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str
    gender: str | None
    birthday: date | None
    address: dict[str, str] | None
    locale: str
    preferences: dict[str, list[str]]
    tags: list[str]


def person(p: Profiles, c: Customers, i: int, phone_only: bool) -> Person:
    """The profile of local index ``i``; phone-only customers are just a number at the till."""
    index = c.first + i
    phone = phone_of(index, int(p.phone_prefix[i]))
    favourites = [CATEGORIES[k] for k in c.favourites[i] if k >= 0]
    preferences = {
        "categories": favourites,
        "styles": [STYLES[k] for k in p.styles[i] if k >= 0],
        "colours": [COLOURS[k] for k in p.colours[i] if k >= 0],
    }
    if phone_only:
        return Person(None, None, None, phone, None, None, None, "zh_Hans_CN", preferences, [])
    female = bool(p.female[i])
    domains: tuple[str, ...]
    if p.english[i]:
        first = (EN_FIRST_FEMALE if female else EN_FIRST_MALE)[int(p.given[i])]
        last = EN_LAST[int(p.surname[i])]
        local_part, domains, locale = f"{first}.{last}".lower(), EN_EMAIL_DOMAINS, "en"
    else:
        first, first_py = (GIVEN_FEMALE if female else GIVEN_MALE)[int(p.given[i])]
        last, last_py, _w = SURNAMES[int(p.surname[i])]
        local_part, domains, locale = f"{first_py}.{last_py}", CN_EMAIL_DOMAINS, "zh_Hans_CN"
    # The index keeps every email unique however common the name is.
    email = f"{local_part}{index}@{domains[int(p.email_domain[i]) % len(domains)]}"
    city = _CITIES[int(p.city[i])]
    districts = DISTRICTS[city]
    address = {
        "country": "CN",
        "city": city,
        "district": districts[int(p.district[i]) % len(districts)],
        "line1": f"{STREETS[int(p.street_no[i]) % len(STREETS)]}{int(p.street_no[i])}号",
        "postal_code": POSTCODES[city],
    }
    birthday = date(1940, 1, 1) + timedelta(days=int(p.birthday[i])) if p.birthday[i] >= 0 else None
    tags = [f"likes-{k.lower().replace(' & ', '-').replace(' ', '-')}" for k in favourites[:2]]
    tags += ["vip"] if p.vip[i] else []
    tags += ["gift-buyer"] if "Gift sets" in favourites else []
    tags += ["far-away"] if city not in CITY_OF_STORE else []
    return Person(
        first_name=first,
        last_name=last,
        email=email if p.has_email[i] else None,
        phone=phone,
        gender="female" if female else "male",
        birthday=birthday,
        address=address,
        locale=locale,
        preferences=preferences,
        tags=tags,
    )


def kind_source(kind: int) -> str:
    return {
        Kind.REGISTERED: "demo-signup",
        Kind.NEVER_BOUGHT: "demo-signup",
        Kind.PHONE_ONLY: "demo-pos",
    }[Kind(kind)]
