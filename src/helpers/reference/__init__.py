"""Reference data that travels with the bundle: what each official table is, and a trimmed national snapshot.

The bundle compares a council with England, its region and its statistical neighbours using tables the
Department for Education (DfE) publishes, and sizes localities with the English Indices of Deprivation
(MHCLG) and ONS geography. This package records, for each official table the bundle uses
(:data:`SOURCES`): publisher, title, licence (all Open Government Licence v3.0), where to download it,
its layout, and the sha256 of the version the bundle was tested with.

It also holds a **committed, trimmed national snapshot** (``snapshot/``) of what the benchmarks need,
for every English local authority, region and England, for every year published: CIN referrals and
re-referrals (table C1), children looked after numbers and rates, location and distance of placements
(31 March and new placements in the year) and placement stability. Each snapshot file keeps the
Explore Education Statistics (EES) layout, so the same readers (:mod:`helpers.reference.dfe_stats`,
:mod:`helpers.reference.dfe_cla_stats`) read the snapshot and the full published files. The snapshot is
rebuilt from the files as published by::

    python -m helpers.reference build --from DIR      # DIR holds the published files
    python -m helpers.reference fetch --from URL      # download them, verify checksums, rebuild

A council config points at a snapshot table with ``"reference:NAME"`` (see :func:`resolve`), e.g.
``dfe_c1 = "reference:dfe_c1"``, or at its own downloaded copy with a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from helpers import lazy_exports

#: The readers of reference data in this subpackage. Their public names are importable from here
#: (``from helpers.reference import read_lsoa_ward_lookup``); modules load on first use.
MODULES = ("geography", "postcodes", "deprivation", "dfe_stats", "dfe_cla_stats", "benchmarks", "build")


__getattr__, __dir__ = lazy_exports(__name__, MODULES)

#: Folder of the committed snapshot (installed with the package).
SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshot"

#: Prefix in a config value naming a snapshot table instead of a file path.
REFERENCE_PREFIX = "reference:"

OGL = "Open Government Licence v3.0"
OGL_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"

CIN_RELEASE = "https://explore-education-statistics.service.gov.uk/find-statistics/characteristics-of-children-in-need"
CLA_RELEASE = ("https://explore-education-statistics.service.gov.uk/find-statistics/"
               "children-looked-after-in-england-including-adoptions")
IOD2019_RELEASE = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019"
IOD2025_RELEASE = "https://www.gov.uk/government/statistics/english-indices-of-deprivation-2025"
ONS_GEOPORTAL = "https://geoportal.statistics.gov.uk/"

EES_GEOGRAPHY = ("time_period, time_identifier, geographic_level, country_code, country_name, region_code, "
                 "region_name, old_la_code, new_la_code, la_name")


@dataclass(frozen=True)
class Source:
    """One official table: who publishes it, under what licence, where it is, what it looks like.

    ``file_name`` is the name the file had in the folder it was tested from (``mirror_path`` is its
    path in that folder, the layout ``build --from`` and ``fetch --from`` expect). ``download_url``
    is the publisher's direct download address where it is stable; EES data files are downloaded
    from the release page (``page``) under the title given, so for them it is None. ``sha256`` is
    the checksum of the version tested; ``notes`` says how that copy relates to the publisher's.
    """

    key: str
    publisher: str
    title: str
    page: str
    mirror_path: str
    layout: str
    sha256: str
    download_url: str | None = None
    licence: str = OGL
    notes: str = ""
    attribution: str = field(default="")

    @property
    def file_name(self) -> str:
        return self.mirror_path.rsplit("/", 1)[-1]


def _dfe_attribution(release: str) -> str:
    return ("Contains public sector information licensed under the Open Government Licence v3.0. "
            f"Source: Department for Education, {release}.")


_MHCLG_2019 = ("Contains public sector information licensed under the Open Government Licence v3.0. "
               "Source: Ministry of Housing, Communities and Local Government, English Indices of Deprivation 2019.")
_MHCLG_2025 = ("Contains public sector information licensed under the Open Government Licence v3.0. "
               "Source: Ministry of Housing, Communities and Local Government, English Indices of Deprivation 2025.")
_ONS = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0"

#: Every official table the bundle uses, by key.
SOURCES: dict[str, Source] = {s.key: s for s in [
    Source("dfe_c1", "Department for Education",
           "Children in need, reporting year 2025: table C1, referrals and re-referrals by local authority, 2013 to 2025",
           CIN_RELEASE, "dfe/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
           f"EES CSV: {EES_GEOGRAPHY}, category, referral_count, rereferral_count, rereferral_percent, "
           "no_further_action_count, no_further_action_percent, not_in_need_count, not_in_need_percent, "
           "referral_child_count, rereferral_child_count, rereferral_child_percent",
           "e548b10b4e2de4e8845c35eae274f6280636f5ff262f8189cbe62c320591f75d",
           notes="Tested copy: DfE's own dashboard repository (dfe-analytical-services/CSC_outcomes_and_enablers, data-raw/).",
           attribution=_dfe_attribution("Children in need, reporting year 2025")),
    Source("dfe_cla_numbers", "Department for Education",
           "Children looked after in England including adoptions, reporting year 2025: numbers and rates per 10,000 children",
           CLA_RELEASE, "dfe/cla_number_and_rate_per_10k_children.csv",
           f"EES CSV: {EES_GEOGRAPHY} (la_name before new_la_code), population_type, population_estimate, "
           "children_count, rate_per_10000",
           "8228ce8c6f55fb1ee59b65988dad56c79ea7703c03eedd5c0f8af5997d6686ce",
           notes="Tested copy: dfe-analytical-services/CSC_outcomes_and_enablers, data-raw/.",
           attribution=_dfe_attribution("Children looked after in England including adoptions, reporting year 2025")),
    Source("dfe_new_placements", "Department for Education",
           "Children looked after in England including adoptions, reporting year 2025: location of new placements "
           "and reasons for placement change during the year",
           CLA_RELEASE, "dfe/la_cla_during_year_new_placements.csv",
           f"EES CSV: {EES_GEOGRAPHY}, characteristic, breakdown, children_count, children_percent",
           "4d7cf7e62eb2946ce64c4c967f73e628251d50fd0b1bff962fa06f78ed9d13c9",
           notes="Tested copy: dfe-analytical-services/CSC_outcomes_and_enablers, data-raw/.",
           attribution=_dfe_attribution("Children looked after in England including adoptions, reporting year 2025")),
    Source("dfe_stability", "Department for Education",
           "Children looked after in England including adoptions, reporting year 2025: placement stability",
           CLA_RELEASE, "dfe/la_cla_placement_stability.csv",
           f"EES CSV: {EES_GEOGRAPHY}, cla_group, placement_stability, children_count, children_percent",
           "b102f3277a40353a99bd997fe0c1ac557370bb8a793b177e6a570c851a96290f",
           notes="Tested copy: dfe-analytical-services/CSC_outcomes_and_enablers, data-raw/.",
           attribution=_dfe_attribution("Children looked after in England including adoptions, reporting year 2025")),
    Source("dfe_characteristics", "Department for Education",
           "Children looked after in England including adoptions: children looked after on 31 March by characteristics, "
           "2021 to 2025 (placement, provider, locality of placement, distance from home)",
           CLA_RELEASE, "dfe/cla_on_31_march_by_characteristics_2021_2025_via_dfe_dashboard.csv",
           "time_period, geographic_level, region_code, region_name, old_la_code, new_la_code, la_name, "
           "characteristic_group, breakdown, children_count, children_percent",
           "6f0622414f3ff2500550202a5df005633424c46d52730c6a1e1b85f465423181",
           notes=("Tested copy: DfE's processed copy of the official la_cla_on_31_march_by_characteristics file, from "
                  "its dashboard repository (combined_cla_31_march_data), statistical-neighbour medians removed. "
                  "The official file has the same figures in the EES layout (cla_group, characteristic columns)."),
           attribution=_dfe_attribution("Children looked after in England including adoptions, reporting year 2025")),
    Source("mhclg_iod2019_file1", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2019, File 1: index of multiple deprivation",
           IOD2019_RELEASE, "iod2019/File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx",
           "xlsx, sheet IMD2019: LSOA code (2011), LSOA name (2011), Local Authority District code (2019), "
           "Local Authority District name (2019), Index of Multiple Deprivation (IMD) Rank, ... Decile",
           "b95ca12952c3a8ebdb2e5c3bb03d5b0e56b76ede3fcf45205db26f280b912d9d",
           download_url=("https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/"
                         "file/833970/File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx"),
           attribution=_MHCLG_2019),
    Source("mhclg_iod2019_file3", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2019, File 3: supplementary indices, IDACI and IDAOPI",
           IOD2019_RELEASE, "iod2019/File_3_-_IoD2019_Supplementary_Indices_-_IDACI_and_IDAOPI.xlsx",
           "xlsx, sheet IoD2019 IDACI & IDAOPI: LSOA and LAD codes and names (2011/2019), IMD, IDACI and IDAOPI "
           "rank and decile",
           "a0fb05ae7acc30b914829bf1eacb4ea13e8bc8eaf77a3bf6adc16323d626ab85",
           download_url=("https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/"
                         "file/833974/File_3_-_IoD2019_Supplementary_Indices_-_IDACI_and_IDAOPI.xlsx"),
           attribution=_MHCLG_2019),
    Source("mhclg_iod2019_file6", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2019, File 6: population denominators (mid-2015)",
           IOD2019_RELEASE, "iod2019/File_6_-_IoD2019_Population_Denominators.xlsx",
           "xlsx, sheet Population Denominators: LSOA and LAD codes and names; total, 0-15, 16-59, 60+ and "
           "working-age populations, mid 2015 (excluding prisoners)",
           "d13bc1333325309d4a8a4df27ff501cba0f4df83c87765203da426eb27024b72",
           download_url=("https://assets.publishing.service.gov.uk/government/uploads/system/uploads/attachment_data/"
                         "file/833980/File_6_-_IoD2019_Population_Denominators.xlsx"),
           attribution=_MHCLG_2019),
    Source("mhclg_iod2025_file1", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2025, File 1: index of multiple deprivation",
           IOD2025_RELEASE, "iod2025/File_1_IoD2025_Index_of_Multiple_Deprivation.xlsx",
           "xlsx, sheet IMD25: LSOA code (2021), LSOA name (2021), Local Authority District code (2024), "
           "Local Authority District name (2024), Index of Multiple Deprivation (IMD) Rank, ... Decile; 33,755 LSOAs",
           "ab6b1419cc888a5bcc1de5c2846b184ececfa96008698f82cd01cf5d58dff7ea",
           notes="Tested copy re-saved in Excel by a council analyst; values checked against File 7 (not byte-identical to MHCLG's).",
           attribution=_MHCLG_2025),
    Source("mhclg_iod2025_file3", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2025, File 3: supplementary indices, IDACI and IDAOPI",
           IOD2025_RELEASE, "iod2025/File_3_IoD2025_Supplementary_Indices_IDACI_and_IDAOPI.xlsx",
           "xlsx, sheet IoD2025 IDACI & IDAOPI: LSOA (2021) and LAD (2024) codes and names, IMD, IDACI and IDAOPI "
           "rank and decile",
           "0a627952733730060f612fb4263717a262bcd52b2724ae497fc5c3a363499de1",
           notes="Tested copy re-saved in Excel by a council analyst; values checked against File 7.",
           attribution=_MHCLG_2025),
    Source("mhclg_iod2025_file7", "Ministry of Housing, Communities and Local Government",
           "English indices of deprivation 2025, File 7: all ranks, scores, deciles and population denominators",
           IOD2025_RELEASE, "iod2025/File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv",
           "CSV: LSOA code (2021), LSOA name (2021), Local Authority District code (2024), ... name (2024), then score, "
           "rank (where 1 is most deprived) and decile for the IMD, each domain, IDACI and IDAOPI, then population "
           "denominators mid 2022 (excluding prisoners)",
           "",
           download_url=("https://assets.publishing.service.gov.uk/media/691ded56d140bbbaa59a2a7d/"
                         "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"),
           notes="Not tested byte for byte (no copy was available offline): the reader was tested on files with its published headers.",
           attribution=_MHCLG_2025),
    Source("ons_lsoa11_wd21_lad21", "Office for National Statistics",
           "Lower Layer Super Output Area (2011) to Ward (2021) to LAD (2021) Lookup in England and Wales (V2)",
           ONS_GEOPORTAL, "lookups/LSOA11_WD21_LAD21_EW_LU_V2.csv",
           "CSV: LSOA11CD, LSOA11NM, WD21CD, WD21NM, LAD21CD, LAD21NM (best fit, 31 December 2021)",
           "1805d1cd9cc8300d8e2a1ef2fffc11acc72a72ac9f804a1b77f935d4fe658dc7",
           notes="The CSV is the published xlsx saved as CSV (every column as text).",
           attribution=_ONS),
    Source("ons_lsoa21_wd25_lad25", "Office for National Statistics",
           "LSOA (2021) to Electoral Ward (2025) to LAD (2025) Best Fit Lookup in EW",
           ONS_GEOPORTAL, "lookups/lsoa21_to_wd25_lad25_area_bestfit_sample_las.csv",
           "CSV: LSOA21CD, LSOA21NM, WD25CD, WD25NM, LAD25CD, LAD25NM (the tested copy has the same code and "
           "name columns in lower case plus share_of_lsoa_area_in_ward, n_wards_overlapping_1pct, utla_code)",
           "ac38bde90941c13786875d976ca9b919cab26e0f300589999ca18b3ee6925b56",
           notes=("Tested copy is NOT the ONS product: an area-based best fit of ONS LSOA 2021 to May-2025 ward "
                  "boundaries for three sample councils. Use the ONS best-fit lookup in production."),
           attribution=_ONS),
    Source("ons_mye_lsoa11_children", "Office for National Statistics",
           "Lower layer Super Output Area population estimates, mid-2020 (SAPE23DT2), single year of age",
           "https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/populationestimates",
           "population/ons_mye2020_lsoa11_children_single_year_age.csv",
           "CSV: lsoa11cd, lsoa11nm, pop_all_ages_mid2020, age_0 ... age_17, pop_0_17_mid2020, pop_0_15_mid2020",
           "76e40f14146876647c280b79b8831652f825a7a044769304f19631f6f64c5c85",
           notes="Tested copy: ages 0-17 and all ages of the ONS file, via humaniverse/demographr.",
           attribution=_ONS),
]}


@dataclass(frozen=True)
class SnapshotTable:
    """One file of the snapshot: which source it is cut from, which rows and columns it keeps."""

    name: str
    source: str
    file: str
    columns: tuple[str, ...]
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)   # column -> values kept (empty: all rows)
    description: str = ""


_EES_GEO = ("time_period", "time_identifier", "geographic_level", "country_code", "country_name", "region_code",
            "region_name", "old_la_code", "new_la_code", "la_name")
_CLA_GEO = ("time_period", "geographic_level", "region_code", "region_name", "old_la_code", "new_la_code", "la_name")

#: The snapshot's tables, by name (the name used after ``reference:`` in a config).
SNAPSHOT_TABLES: dict[str, SnapshotTable] = {t.name: t for t in [
    SnapshotTable("dfe_c1", "dfe_c1", "dfe_c1_referrals_rereferrals.csv",
                  _EES_GEO + ("category", "referral_count", "rereferral_count", "rereferral_percent",
                              "referral_child_count", "rereferral_child_count", "rereferral_child_percent"),
                  description="CIN referrals and re-referrals (table C1), England, regions and every LA, 2013 onwards"),
    SnapshotTable("dfe_numbers", "dfe_cla_numbers", "dfe_cla_numbers_and_rates.csv",
                  _CLA_GEO + ("population_type", "population_estimate", "children_count", "rate_per_10000"),
                  description="Children looked after on 31 March, starting and ceasing: numbers and rates per 10,000"),
    SnapshotTable("dfe_new_placements", "dfe_new_placements", "dfe_cla_new_placements_location.csv",
                  _CLA_GEO + ("characteristic", "breakdown", "children_count", "children_percent"),
                  keep={"characteristic": ("Location of new placements during the year",)},
                  description="New placements in the year: inside/outside the LA boundary and within/over 20 miles"),
    SnapshotTable("dfe_stability", "dfe_stability", "dfe_cla_placement_stability.csv",
                  _CLA_GEO + ("cla_group", "placement_stability", "children_count", "children_percent"),
                  description="Placement stability: 3+ placements in the year; same carer for 2+ years"),
    SnapshotTable("dfe_characteristics", "dfe_characteristics", "dfe_cla_31_march_placement_location.csv",
                  _CLA_GEO + ("characteristic_group", "breakdown", "children_count", "children_percent"),
                  keep={"characteristic_group": ("Placement", "Place providers", "Locality of placement",
                                                 "Distance between home and placement")},
                  description="Children looked after on 31 March: placement type, provider, locality and distance from home"),
]}

#: Statement printed on every page that shows figures from the snapshot.
SNAPSHOT_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. Source: Department for "
    "Education, Children in need (reporting year 2025, table C1) and Children looked after in England including "
    "adoptions (reporting year 2025), trimmed to the benchmark figures by helpers.reference."
)


def snapshot_path(name: str, snapshot_dir: Path | None = None) -> Path:
    """Path of a snapshot table (``name`` a key of :data:`SNAPSHOT_TABLES`)."""
    if name not in SNAPSHOT_TABLES:
        raise KeyError(f"unknown reference table {name!r}: choose from {', '.join(SNAPSHOT_TABLES)}")
    return (snapshot_dir or SNAPSHOT_DIR) / SNAPSHOT_TABLES[name].file


def resolve(value: str | Path | None, root: str | Path) -> Path | None:
    """Where a benchmark input named in a config lives.

    ``""``/None -> None (not configured); ``"reference:NAME"`` -> the committed snapshot's table NAME
    (:data:`SNAPSHOT_TABLES`); anything else -> a path, relative to the project ``root`` unless absolute.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if text.startswith(REFERENCE_PREFIX):
        return snapshot_path(text[len(REFERENCE_PREFIX):])
    p = Path(text)
    return p if p.is_absolute() else (Path(root) / p).resolve()


def is_snapshot(path: str | Path | None) -> bool:
    """True when ``path`` is a file of the committed snapshot (the page then says so in its sources)."""
    if path is None:
        return False
    try:
        return Path(path).resolve().parent == SNAPSHOT_DIR
    except OSError:
        return False
