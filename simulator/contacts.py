"""Synthetic contact lists: fictitious residents of Thừa Thiên Huế to follow up (the demo's data).

Deterministic (fixed seed): running it again gives the same file, byte for byte.

    python scripts/make_sample_contacts.py [OUTPUT]   # rewrites data/sample_contacts.csv

The people are invented. The phone numbers are random digits after real
mobile prefixes, so they parse as valid Vietnamese mobiles; Vietnam has no
range reserved for fiction, so some may belong to someone: use this list only
with the simulated telephony backend (TELEPHONY_BACKEND=sim). They are written
the many ways CDC lists write them (spaces, dots, +84, 84, dropped 0, pre-2018
11-digit numbers).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

SEED = 20210801
COUNT = 300

# District -> communes (wards, communes, townships) of Thừa Thiên Huế, 2021.
PLACES: dict[str, list[str]] = {
    "Thành phố Huế": [
        "Phường Phú Hội", "Phường Vĩnh Ninh", "Phường Phú Nhuận", "Phường Thuận Thành", "Phường Tây Lộc",
        "Phường Kim Long", "Phường An Cựu", "Phường Xuân Phú", "Phường Vỹ Dạ", "Phường Đúc",
        "Phường Trường An", "Phường Thủy Biều", "Phường Phú Hậu", "Phường Hương Sơ", "Phường An Đông",
    ],
    "Thị xã Hương Thủy": [
        "Phường Phú Bài", "Phường Thủy Dương", "Phường Thủy Phương", "Phường Thủy Châu",
        "Phường Thủy Lương", "Xã Thủy Thanh", "Xã Thủy Vân", "Xã Thủy Phù",
    ],
    "Thị xã Hương Trà": [
        "Phường Tứ Hạ", "Phường Hương Văn", "Phường Hương Chữ", "Phường Hương Xuân", "Xã Hương Toàn",
        "Xã Bình Tiến", "Xã Hương Vinh",
    ],
    "Huyện Phú Vang": [
        "Thị trấn Thuận An", "Xã Phú Thượng", "Xã Phú Mỹ", "Xã Phú Đa", "Xã Vinh Thanh", "Xã Phú Diên",
        "Xã Phú Xuân", "Xã Vinh Hà",
    ],
    "Huyện Phong Điền": [
        "Thị trấn Phong Điền", "Xã Phong Thu", "Xã Phong An", "Xã Phong Hiền", "Xã Điền Hải",
        "Xã Phong Sơn", "Xã Phong Xuân",
    ],
    "Huyện Phú Lộc": [
        "Thị trấn Phú Lộc", "Thị trấn Lăng Cô", "Xã Lộc Điền", "Xã Vinh Hưng", "Xã Lộc Trì", "Xã Lộc Bổn",
    ],
    "Huyện Quảng Điền": ["Thị trấn Sịa", "Xã Quảng Thành", "Xã Quảng Phước", "Xã Quảng An", "Xã Quảng Lợi"],
}
# Rough weight of each district in the list (the city has most people).
DISTRICT_WEIGHTS = [35, 15, 10, 14, 9, 10, 7]

FAMILY_NAMES = [
    ("Nguyễn", 30), ("Trần", 10), ("Lê", 10), ("Phạm", 5), ("Hoàng", 4), ("Huỳnh", 3), ("Phan", 5),
    ("Võ", 5), ("Đặng", 3), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 4), ("Ngô", 3), ("Dương", 2), ("Trương", 3),
    ("Hà", 1), ("Lý", 1), ("Đoàn", 2), ("Mai", 1), ("Tôn Thất", 2), ("Nguyễn Phước", 1),
]
MALE_MIDDLE = ["Văn", "Văn", "Hữu", "Đức", "Quang", "Minh", "Công", "Thanh", "Xuân", "Đình", "Ngọc", "Anh", "Quốc"]
FEMALE_MIDDLE = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Diệu", "Hồng", "Phương", "Bảo", "Thùy"]
MALE_GIVEN = [
    "An", "Bảo", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khang", "Khoa",
    "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành", "Thịnh",
    "Trung", "Tuấn", "Việt", "Vinh", "Lộc", "Tín", "Nhân", "Toàn", "Kiên", "Hậu",
]
FEMALE_GIVEN = [
    "Anh", "Châu", "Diễm", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương", "Lan", "Linh",
    "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phượng", "Quyên", "Thảo", "Thủy", "Trang",
    "Trinh", "Tuyết", "Uyên", "Vân", "Yến", "Nhi", "Hân", "Vy",
]
FOREIGN_NAMES = ["John Miller", "Emma Wilson", "David Brown", "Sarah Johnson", "Kim Min-jun", "Tanaka Yuki"]

CATEGORIES = [("F1", 45), ("F2", 25), ("Người về từ vùng dịch", 30)]
FIRST_DAY = dt.date(2021, 8, 1)
DAYS = 10  # 01/08/2021 .. 10/08/2021

# Mobile prefixes in use (after the 0): Viettel, Vinaphone, MobiFone, Vietnamobile.
PREFIXES = ["32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",
            "81", "82", "83", "84", "85", "88", "91", "94",
            "70", "76", "77", "78", "79", "90", "93",
            "56", "58", "92"]
# Today's prefix -> the pre-2018 11-digit one it replaced, for numbers written the old way.
OLD_PREFIX = {"32": "162", "33": "163", "34": "164", "35": "165", "36": "166", "37": "167", "38": "168",
              "39": "169", "70": "120", "79": "121", "77": "122", "76": "126", "78": "128", "83": "123",
              "84": "124", "85": "125", "81": "127", "82": "129", "56": "186", "58": "188"}

HEADER = ["STT", "Họ và tên", "Năm sinh", "Số điện thoại", "Phân loại", "Quận/Huyện", "Xã/Phường",
          "Ngày tiếp xúc/Ngày về", "Ngôn ngữ", "Ghi chú"]
NOTES = ["", "", "", "", "", "Cách ly tại nhà", "Đã lấy mẫu lần 1", "Đi cùng chuyến xe", "Liên hệ qua người nhà",
         "Đã lấy mẫu lần 2", "Làm việc tại chợ Đông Ba"]


def weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def person_name(rng: random.Random) -> tuple[str, str]:
    """(name, language)."""
    if rng.random() < 0.02:
        return rng.choice(FOREIGN_NAMES), "Tiếng Anh"
    family = weighted(rng, FAMILY_NAMES)
    if rng.random() < 0.5:
        if family == "Tôn Thất":  # women of the Tôn Thất family are Tôn Nữ
            family = "Tôn Nữ"
        middle, given = rng.choice(FEMALE_MIDDLE), rng.choice(FEMALE_GIVEN)
    else:
        middle, given = rng.choice(MALE_MIDDLE), rng.choice(MALE_GIVEN)
    return f"{family} {middle} {given}", rng.choice(["", "", "", "Tiếng Việt"])


def messy(rng: random.Random, prefix: str, rest: str) -> str:
    """The number 0<prefix><rest> written one of the ways people write it."""
    n = prefix + rest  # 9 digits after the 0
    if prefix in OLD_PREFIX and rng.random() < 0.12:
        old = OLD_PREFIX[prefix] + rest  # 10 digits after the 0
        return rng.choice([f"0{old[:4]} {old[4:7]} {old[7:]}", f"0{old}", f"+84 {old[:3]} {old[3:6]} {old[6:]}"])
    forms = [
        (f"0{n[:3]} {n[3:6]} {n[6:]}", 30),
        (f"0{n}", 20),
        (f"0{n[:3]}.{n[3:6]}.{n[6:]}", 10),
        (f"0{n[:3]}-{n[3:6]}-{n[6:]}", 6),
        (f"+84 {n[:2]} {n[2:5]} {n[5:]}", 6),
        (f"+84{n}", 6),
        (f"84{n}", 6),
        (n, 8),  # Excel dropped the leading 0
        (f"(+84) {n[:3]} {n[3:6]} {n[6:]}", 3),
        (f"0{n[:4]} {n[4:]}", 5),
    ]
    return weighted(rng, forms)


def rows(seed: int = SEED, count: int = COUNT, first_day: dt.date = FIRST_DAY) -> list[list[str]]:
    rng = random.Random(seed)
    used: set[str] = set()
    out = []
    districts = list(PLACES)
    for index in range(1, count + 1):
        name, language = person_name(rng)
        while True:
            prefix = rng.choice(PREFIXES)
            rest = f"{rng.randrange(10_000_000):07d}"
            if prefix + rest not in used:
                used.add(prefix + rest)
                break
        district = rng.choices(districts, weights=DISTRICT_WEIGHTS)[0]
        day = first_day + dt.timedelta(days=rng.randrange(DAYS))
        born = rng.randint(1940, 2015)
        out.append([
            str(index), name, str(born), messy(rng, prefix, rest), weighted(rng, CATEGORIES), district,
            rng.choice(PLACES[district]), f"{day:%d/%m/%Y}", language, rng.choice(NOTES),
        ])
    return out


def render(seed: int = SEED, count: int = COUNT, first_day: dt.date = FIRST_DAY) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(seed, count, first_day))
    return buffer.getvalue()


def write_contacts_csv(path: Path, count: int = COUNT, seed: int = SEED, first_day: dt.date = FIRST_DAY) -> Path:
    """Write `count` synthetic contacts to `path` (UTF-8 with BOM, so Excel shows the accents); their
    exposure or return dates fall in the DAYS days from `first_day`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(seed, count, first_day), encoding="utf-8-sig", newline="")
    return path
