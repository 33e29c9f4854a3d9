"""The demo merchant: Lotus Tea & Gifts, its stores and its catalogue (~120 products).

Products are built from a short list of base items and their pack sizes, so that the catalogue has
the spread of prices a real tea shop has (a 50 g tin of green tea next to a 2,000-yuan clay pot).
"""

from __future__ import annotations

from dataclasses import dataclass

MERCHANT_NAME = "Lotus Tea & Gifts 莲韵茶礼"
MERCHANT_SLUG = "demo"
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"
LOCALE = "zh_Hans_CN"
OWNER_EMAIL = "owner@demo.patron"
OWNER_PASSWORD = "patron-demo"
OWNER_NAME = "Lin Yue 林悦"


@dataclass(frozen=True)
class DemoStore:
    code: str
    name: str
    channel: str  # "store" or "online"
    city: str
    # Share of the merchant's in-store customers who call this store home.
    weight: float


STORES: tuple[DemoStore, ...] = (
    DemoStore("SH-JA", "上海静安店 Shanghai Jing'an", "store", "Shanghai", 0.45),
    DemoStore("HZ-XH", "杭州西湖店 Hangzhou West Lake", "store", "Hangzhou", 0.33),
    DemoStore("SZ-PJ", "苏州平江路店 Suzhou Pingjiang", "store", "Suzhou", 0.22),
    DemoStore("ONLINE", "线上商城 Online shop", "online", "Shanghai", 0.0),
)
PHYSICAL_STORES = tuple(s for s in STORES if s.channel == "store")
ONLINE_STORE = next(s for s in STORES if s.channel == "online")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price_minor: int
    tags: tuple[str, ...]
    # Which season sells it ("" = all year); seasonal boxes are only bought in their season.
    season: str = ""


# Display categories, in the order the generator indexes them.
CATEGORIES: tuple[str, ...] = (
    "Green tea",
    "Oolong",
    "Black tea",
    "Pu'er",
    "White tea",
    "Flower & herbal",
    "Teaware",
    "Gift sets",
    "Snacks",
    "Seasonal boxes",
)
SEASONAL_CATEGORY = "Seasonal boxes"
# What the shop calls its categories: in Chinese and English, as it names its stores and teas
# (the generator keys on the English).
CATEGORY_NAMES: dict[str, str] = {
    "Green tea": "绿茶 Green tea",
    "Oolong": "乌龙茶 Oolong",
    "Black tea": "红茶 Black tea",
    "Pu'er": "普洱茶 Pu'er",
    "White tea": "白茶 White tea",
    "Flower & herbal": "花草茶 Flower & herbal",
    "Teaware": "茶具 Teaware",
    "Gift sets": "礼盒 Gift sets",
    "Snacks": "茶点 Snacks",
    "Seasonal boxes": "时令礼盒 Seasonal boxes",
}

# (code, name, category, price of the base pack in yuan, tags, pack sizes as (label, factor))
_TEA_SIZES = (("50g", 1.0), ("100g", 1.85), ("250g", 4.2))
_BASE_TEAS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("LJ", "西湖龙井 West Lake Longjing", "Green tea", 98, ("green", "hangzhou", "bestseller")),
    ("BLC", "碧螺春 Biluochun", "Green tea", 78, ("green", "suzhou")),
    ("HSMF", "黄山毛峰 Huangshan Maofeng", "Green tea", 58, ("green",)),
    ("LAGP", "六安瓜片 Lu'an Guapian", "Green tea", 68, ("green",)),
    ("AJBC", "安吉白茶 Anji Baicha", "Green tea", 88, ("green", "new")),
    ("TGY", "铁观音 Tieguanyin", "Oolong", 68, ("oolong", "bestseller")),
    ("DHP", "大红袍 Da Hong Pao", "Oolong", 118, ("oolong", "rock-tea")),
    ("DCWL", "冻顶乌龙 Dong Ding Oolong", "Oolong", 88, ("oolong", "taiwan")),
    ("FHDC", "凤凰单丛 Phoenix Dancong", "Oolong", 98, ("oolong",)),
    ("JJM", "金骏眉 Jin Jun Mei", "Black tea", 128, ("black", "premium")),
    ("DHG", "滇红 Dian Hong", "Black tea", 48, ("black",)),
    ("QMHC", "祁门红茶 Keemun", "Black tea", 58, ("black",)),
    ("LSXZ", "正山小种 Lapsang Souchong", "Black tea", 62, ("black", "smoky")),
    ("PES", "普洱熟茶 Ripe Pu'er", "Pu'er", 58, ("puer", "aged")),
    ("PER", "普洱生茶 Raw Pu'er", "Pu'er", 72, ("puer",)),
    ("BHYZ", "白毫银针 Silver Needle", "White tea", 138, ("white", "premium")),
    ("BMD", "白牡丹 White Peony", "White tea", 68, ("white",)),
    ("SM", "寿眉 Shou Mei", "White tea", 42, ("white", "aged")),
)
_CAKES = (
    ("PEB", "普洱茶饼 357g Pu'er cake", "Pu'er", 268, ("puer", "cake", "collectible")),
    ("LBZ", "老班章茶饼 Lao Ban Zhang cake", "Pu'er", 1280, ("puer", "cake", "premium")),
    ("BCB", "福鼎白茶饼 Fuding white tea cake", "White tea", 238, ("white", "cake")),
)
_FLOWERS = (
    ("MLH", "茉莉花茶 Jasmine tea", 38, ("flower", "jasmine", "bestseller")),
    ("JH", "杭白菊 Hangzhou chrysanthemum", 28, ("flower", "herbal")),
    ("MG", "玫瑰花茶 Rose buds", 32, ("flower", "rose")),
    ("GH", "桂花乌龙 Osmanthus oolong", 45, ("flower", "oolong", "osmanthus")),
    ("QP", "陈皮普洱 Tangerine-peel pu'er", 58, ("herbal", "puer", "new")),
    ("NMC", "柠檬红茶 Lemon black tea", 26, ("herbal", "fruit", "new")),
)
_TEAWARE = (
    ("ZSH", "宜兴紫砂壶 Yixing clay teapot", 680, ("teaware", "clay", "collectible")),
    ("ZSHP", "名家紫砂壶 Master's Yixing teapot", 2180, ("teaware", "clay", "premium")),
    ("GW", "白瓷盖碗 Porcelain gaiwan", 88, ("teaware", "porcelain", "white")),
    ("GWQ", "青花盖碗 Blue-and-white gaiwan", 128, ("teaware", "porcelain", "blue")),
    ("GDB", "玻璃公道杯 Glass fair cup", 58, ("teaware", "glass")),
    ("PMB", "品茗杯六只 Tasting cups ×6", 96, ("teaware", "porcelain")),
    ("CP", "竹制茶盘 Bamboo tea tray", 268, ("teaware", "bamboo")),
    ("CJ", "建盏 Jian ware cup", 198, ("teaware", "jianzhan", "black")),
    ("PS", "旅行茶具 Travel tea set", 158, ("teaware", "travel", "new")),
    ("CG", "锡茶叶罐 Tin caddy", 128, ("teaware", "tin", "gold")),
    ("SHB", "随手泡电水壶 Tea kettle", 329, ("teaware", "kettle")),
    ("CDS", "茶道六君子 Tea tool set", 78, ("teaware", "tools")),
    ("LBH", "琉璃茶杯 Coloured glass cup", 68, ("teaware", "glass", "red")),
    ("CX", "茶巾茶席 Tea cloth and runner", 48, ("teaware", "linen", "green")),
    ("TZ", "铁壶 Cast-iron kettle", 980, ("teaware", "iron", "premium")),
    ("ZGX", "紫砂杯 Clay mug", 138, ("teaware", "clay")),
)
_GIFTS = (
    ("LJGB", "龙井礼盒 Longjing gift box", 398, ("gift-box", "green", "hangzhou")),
    ("DHPG", "大红袍礼盒 Da Hong Pao gift box", 458, ("gift-box", "oolong")),
    ("HCGB", "红茶礼盒 Black tea gift box", 328, ("gift-box", "black", "red")),
    ("SCH", "四季名茶礼盒 Four seasons sampler", 268, ("gift-box", "sampler")),
    ("QYTZ", "企业定制礼盒 Corporate gift set", 888, ("gift-box", "corporate")),
    ("CJLH", "茶具礼盒 Tea set gift box", 598, ("gift-box", "teaware")),
    ("XBLH", "小罐茶礼盒 Mini-tin gift box", 198, ("gift-box", "sampler", "new")),
    ("PELH", "普洱礼盒 Pu'er gift box", 498, ("gift-box", "puer")),
    ("LXH", "旅行茶礼盒 Travel gift set", 228, ("gift-box", "travel")),
    ("HDLH", "婚礼回礼茶 Wedding favour tea", 68, ("gift-box", "wedding", "red")),
    ("SLH", "寿礼礼盒 Longevity gift box", 668, ("gift-box", "elder", "red")),
    ("BSK", "伴手礼小盒 Small souvenir box", 58, ("gift-box", "souvenir")),
)
_SNACKS = (
    ("LDG", "绿豆糕 Mung bean cake", 28, ("snack", "sweet")),
    ("GHG", "桂花糕 Osmanthus cake", 32, ("snack", "osmanthus", "sweet")),
    ("XH", "西湖藕粉 West Lake lotus root powder", 45, ("snack", "hangzhou")),
    ("CWGZ", "茶味瓜子 Tea-flavoured seeds", 22, ("snack", "salty")),
    ("HTS", "琥珀核桃 Honey walnuts", 48, ("snack", "nuts")),
    ("SZG", "苏式糕点 Suzhou pastries", 58, ("snack", "suzhou", "sweet")),
    ("MJ", "话梅 Preserved plums", 18, ("snack", "fruit")),
    ("MCJ", "抹茶曲奇 Matcha cookies", 36, ("snack", "green", "new")),
    ("DZG", "红枣枸杞 Dates and goji", 39, ("snack", "herbal")),
    ("CDT", "茶冻 Tea jelly cups", 29, ("snack", "sweet", "new")),
)
_SEASONAL = (
    ("YB1", "流心奶黄月饼礼盒 Custard mooncake box", 238, ("mooncake", "gift-box"), "mid-autumn"),
    ("YB2", "茶香月饼礼盒 Tea mooncake box", 298, ("mooncake", "gift-box"), "mid-autumn"),
    ("YB3", "苏式月饼 Suzhou mooncakes", 88, ("mooncake", "suzhou"), "mid-autumn"),
    (
        "YB4",
        "中秋茶月礼盒 Mid-Autumn tea & mooncake set",
        498,
        ("mooncake", "gift-box"),
        "mid-autumn",
    ),
    ("YB5", "企业中秋礼盒 Corporate mooncake set", 888, ("mooncake", "corporate"), "mid-autumn"),
    (
        "NH1",
        "新春年货礼盒 New Year goods box",
        388,
        ("spring-festival", "gift-box", "red"),
        "spring",
    ),
    ("NH2", "福字茶礼 Fortune tea gift", 268, ("spring-festival", "gift-box", "red"), "spring"),
    (
        "NH3",
        "生肖茶饼 Zodiac pu'er cake",
        328,
        ("spring-festival", "puer", "collectible"),
        "spring",
    ),
    ("NH4", "年糕点心盒 New Year pastries", 128, ("spring-festival", "snack"), "spring"),
    ("NH5", "新春企业礼盒 Corporate New Year set", 988, ("spring-festival", "corporate"), "spring"),
    (
        "XM1",
        "圣诞红茶礼盒 Christmas black tea box",
        198,
        ("christmas", "gift-box", "red"),
        "christmas",
    ),
    ("XM2", "冬日花茶降临历 Winter tea advent calendar", 258, ("christmas", "flower"), "christmas"),
    (
        "DW1",
        "端午粽子茶礼 Dragon Boat zongzi & tea",
        168,
        ("dragon-boat", "gift-box"),
        "dragon-boat",
    ),
    ("DW2", "端午绿茶礼 Dragon Boat green tea gift", 218, ("dragon-boat", "green"), "dragon-boat"),
)


def _yuan(amount: float) -> int:
    """Whole yuan in fen."""
    return round(amount) * 100


def _shelf_price(amount: float) -> int:
    # Chinese shelf prices like to end in 8: 98, 178, 418.
    return _yuan(max(8, round((amount - 8) / 10) * 10 + 8))


def _teas() -> list[Product]:
    products = []
    for code, name, category, base, tags in _BASE_TEAS:
        for label, factor in _TEA_SIZES:
            price = _shelf_price(base * factor)
            products.append(
                Product(f"{code}-{label.upper()}", f"{name} {label}", category, price, tags)
            )
    for code, name, category, base, tags in _CAKES:
        products.append(Product(code, name, category, _yuan(base), tags))
    for code, name, base, tags in _FLOWERS:
        for label, factor in _TEA_SIZES[:2]:
            price = _shelf_price(base * factor)
            products.append(
                Product(
                    f"{code}-{label.upper()}", f"{name} {label}", "Flower & herbal", price, tags
                )
            )
    return products


def build_catalogue() -> tuple[Product, ...]:
    """Every product of the demo shop, in a fixed order (the generator indexes into it)."""
    products = _teas()
    products += [Product(c, n, "Teaware", _yuan(p), t) for c, n, p, t in _TEAWARE]
    products += [Product(c, n, "Gift sets", _yuan(p), t) for c, n, p, t in _GIFTS]
    products += [Product(c, n, "Snacks", _yuan(p), t) for c, n, p, t in _SNACKS]
    products += [Product(c, n, SEASONAL_CATEGORY, _yuan(p), t, s) for c, n, p, t, s in _SEASONAL]
    return tuple(products)


CATALOGUE: tuple[Product, ...] = build_catalogue()


@dataclass(frozen=True)
class UpcomingProduct:
    """A product released some days after the demo's "now": members may buy it first (early
    access, ADR 0357). Kept out of CATALOGUE so the generated history never buys it."""

    sku: str
    name: str
    category: str
    price_minor: int
    tags: tuple[str, ...]
    days_ahead: int


UPCOMING: tuple[UpcomingProduct, ...] = (
    UpcomingProduct(
        "MQLJ-100G", "明前龙井 2027 Pre-Qingming Longjing 100g", "Green tea", 68800, ("new",), 12
    ),
    UpcomingProduct(
        "BHYZ-GIFT", "白毫银针礼盒 Silver Needle gift box", "Gift sets", 52800, ("new",), 30
    ),
)
SEASONS: tuple[str, ...] = ("", "spring", "mid-autumn", "double-11", "christmas", "dragon-boat")
