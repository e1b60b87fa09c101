"""Name lists for the synthetic institution.

The lists deliberately include values that exercise CSV writers and name parsing: apostrophes
(O'Brien), embedded double quotes (Katherine "Kate"), commas in course titles, multi-word and
particle surnames (St. Clair, van der Berg), and non-ASCII letters (Zoë, Nguyễn, Łukasz, 李).
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into an ASCII base letter.
_UNFOLDABLE = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss"})


def slug(text: str) -> str:
    """ASCII, lower-case, alphanumerics only: ``"Nguyễn"`` → ``"nguyen"``."""
    folded = unicodedata.normalize("NFKD", text.translate(_UNFOLDABLE))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "", ascii_text)


FIRST_NAMES: tuple[str, ...] = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Donald",
    "Emily",
    "Steven",
    "Michelle",
    "Andrew",
    "Amanda",
    "Joshua",
    "Melissa",
    "Kevin",
    "Deborah",
    "Brian",
    "Stephanie",
    "Omar",
    "Aisha",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Raj",
    "Priya",
    "Mohammed",
    "Fatima",
    "Diego",
    "Lucía",
    "José",
    "María José",
    "Zoë",
    "Chloé",
    "François",
    "Renée",
    "Søren",
    "Åsa",
    "Łukasz",
    "Małgorzata",
    "Jürgen",
    "Björn",
    "Siobhán",
    "Seán",
    "Nguyễn Văn",
    "Thảo",
    "Ngozi",
    "Chinedu",
    "Ana-Maria",
    "Jean-Luc",
    'Katherine "Kate"',
    "D'Andre",
    "Mary Ann",
    "Ximena",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "O'Brien",
    "O'Connor",
    "McDonald",
    "St. Clair",
    "van der Berg",
    "de la Cruz",
    "Da Silva",
    "García-López",
    "Smith-Jones",
    "Müller",
    "Schröder",
    "Øvergaard",
    "Kowalczyk",
    "Wiśniewski",
    "Nguyễn",
    "Trần",
    "Đặng",
    "Lê",
    "李",
    "王",
    "Kim",
    "Park",
    "Patel",
    "Singh",
    "Okafor",
    "Adeyemi",
    "Haddad",
    "Al-Farsi",
    "Yamamoto",
    "Tanaka",
    "Ó Súilleabháin",
    "MacLeod",
    "Fitzgerald",
    "D'Angelo",
    "Lefèvre",
    "Åström",
    "Žukauskas",
    "Ng",
)

# Explicit ASCII slugs where folding gives nothing useful (CJK).
_SLUG_OVERRIDES = {"李": "li", "王": "wang"}

FIRST_SLUGS: tuple[str, ...] = tuple(_SLUG_OVERRIDES.get(n, slug(n)) for n in FIRST_NAMES)
LAST_SLUGS: tuple[str, ...] = tuple(_SLUG_OVERRIDES.get(n, slug(n)) for n in LAST_NAMES)

SUFFIXES: tuple[str, ...] = ("Jr.", "Sr.", "II", "III")

# Stored pronoun keys (Canvas maps the first three to display text) plus a custom value.
PRONOUNS: tuple[str, ...] = ("she_her", "he_him", "they_them", "she_her", "he_him", "Ze/Zir")

TIME_ZONES: tuple[str, ...] = (
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Honolulu",
)

INSTITUTIONS: tuple[str, ...] = (
    "Northfield State University",
    "Cedar Ridge College",
    "University of Red Mesa",
    "Lakeshore Community College",
    "St. Brendan's University",
    "Université Laval-Nord",
)

# (college, [(department, subject code)]): the sub-account catalogue.
COLLEGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "College of Arts & Sciences",
        (
            ("Mathematics", "MATH"),
            ("Physics", "PHYS"),
            ("Chemistry", "CHEM"),
            ("Biology", "BIOL"),
            ("History", "HIST"),
            ("English", "ENGL"),
            ("Philosophy", "PHIL"),
            ("Psychology", "PSYC"),
            ("Sociology", "SOC"),
        ),
    ),
    (
        "College of Engineering",
        (
            ("Computer Science", "CS"),
            ("Electrical Engineering", "EE"),
            ("Mechanical Engineering", "ME"),
            ("Civil Engineering", "CE"),
            ("Chemical Engineering", "CHE"),
            ("Aerospace Engineering", "AERO"),
            ("Materials Science", "MSE"),
            ("Bioengineering", "BIOE"),
        ),
    ),
    (
        "School of Business",
        (
            ("Accounting", "ACCT"),
            ("Finance", "FIN"),
            ("Marketing", "MKTG"),
            ("Management", "MGMT"),
            ("Economics", "ECON"),
            ("Supply Chain, Logistics, and Operations", "SCM"),
            ("Entrepreneurship", "ENTR"),
            ("Business Analytics", "BAN"),
        ),
    ),
    (
        "College of Health Sciences",
        (
            ("Nursing", "NURS"),
            ("Public Health", "PUBH"),
            ("Kinesiology", "KIN"),
            ("Nutrition", "NUTR"),
            ("Pharmacy", "PHAR"),
            ("Physical Therapy", "PT"),
            ("Speech-Language Pathology", "SLP"),
            ("Health Informatics", "HINF"),
        ),
    ),
    (
        "College of Fine Arts",
        (
            ("Music", "MUS"),
            ("Theatre & Dance", "THTR"),
            ("Studio Art", "ART"),
            ("Art History", "ARTH"),
            ("Film Studies", "FILM"),
            ("Graphic Design", "GDES"),
            ("Architecture", "ARCH"),
            ("Creative Writing", "CRWR"),
        ),
    ),
    (
        "College of Education",
        (
            ("Curriculum & Instruction", "CI"),
            ("Educational Leadership", "EDL"),
            ("Special Education", "SPED"),
            ("Early Childhood Education", "ECE"),
            ("Educational Psychology", "EPSY"),
            ("Higher Education", "HED"),
            ("Literacy", "LIT"),
            ("Instructional Technology", "ITEC"),
        ),
    ),
    (
        "School of Languages",
        (
            ("Spanish", "SPAN"),
            ("French", "FREN"),
            ("German", "GERM"),
            ("Japanese", "JAPN"),
            ("Chinese", "CHIN"),
            ("Arabic", "ARAB"),
            ("Linguistics", "LING"),
            ("Classics", "CLAS"),
        ),
    ),
    (
        "College of Agriculture",
        (
            ("Agronomy", "AGRO"),
            ("Animal Science", "ANSC"),
            ("Forestry", "FOR"),
            ("Horticulture", "HORT"),
            ("Soil Science", "SOIL"),
            ("Food Science", "FDSC"),
            ("Agricultural Economics", "AGEC"),
            ("Environmental Science", "ENVS"),
        ),
    ),
)

# Third-level accounts under a department.
PROGRAMS: tuple[str, ...] = ("Undergraduate Programs", "Graduate Programs", "Online Programs")

# Course title patterns; ``{d}`` is the department name.
TITLE_PATTERNS: tuple[str, ...] = (
    "Introduction to {d}",
    "Principles of {d}",
    "Foundations of {d}",
    "Topics in {d}",
    "Advanced {d}",
    "{d} Seminar",
    "Research Methods in {d}",
    "{d}: Theory and Practice",
    "{d} Capstone",
    "Writing, Rhetoric, and {d}",
    "Special Topics: {d} in the 21st Century",
    'The "Great Ideas" of {d}',
    "{d} for Non-Majors",
    "Études avancées: {d}",
    "{d} Lab",
    "Independent Study in {d}",
)

SECTION_KINDS: tuple[str, ...] = ("Section", "Lab", "Discussion", "Online Section")

CLUBS: tuple[str, ...] = (
    "Chess Club",
    "Robotics Society",
    "Débat & Rhetoric Society",
    "Outdoor Adventures",
    "Women in STEM",
    "Film, Photography, and Media Club",
    "Gaming Guild",
    "Habitat for Humanity",
)
