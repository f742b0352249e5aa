#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generate quiet-hours/zones/nanp.tsv: NANP prefix -> region and IANA zones.

Source: libphonenumber's timezone and geocoding data (Apache-2.0) as shipped
by Debian's python3-phonenumbers (scripts/setup.sh installs it), then the
hand-kept overrides in quiet-hours/zones/nanp-overrides.tsv.

Rules applied here:
  * an NPA's own line lists every zone that any of its NPA-NXX keys names
    (libphonenumber gives e.g. 850 America/New_York only, although 172 of its
    exchanges are Central): an exchange stopgate does not know gets the
    intersection of all of them;
  * longer keys (NPA + 1..4 digits) are kept only where they differ from the
    NPA line (the check uses the longest match);
  * region: the geocoder's state/province for the NPA, else the majority
    "City, ST" of its exchanges, else the NANP country (JM, BS, ...);
  * an override line replaces the NPA's line and keeps its exchanges.

Usage: scripts/gen-nanp-zones.py > quiet-hours/zones/nanp.tsv
"""
import collections
import datetime
import os
import sys

import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA

STATES = {
    'Alabama': 'AL', 'Alaska': 'AK', 'Arizona': 'AZ', 'Arkansas': 'AR', 'California': 'CA',
    'Colorado': 'CO', 'Connecticut': 'CT', 'Delaware': 'DE', 'Florida': 'FL', 'Georgia': 'GA',
    'Hawaii': 'HI', 'Idaho': 'ID', 'Illinois': 'IL', 'Indiana': 'IN', 'Iowa': 'IA', 'Kansas': 'KS',
    'Kentucky': 'KY', 'Louisiana': 'LA', 'Maine': 'ME', 'Maryland': 'MD', 'Massachusetts': 'MA',
    'Michigan': 'MI', 'Minnesota': 'MN', 'Mississippi': 'MS', 'Missouri': 'MO', 'Montana': 'MT',
    'Nebraska': 'NE', 'Nevada': 'NV', 'New Hampshire': 'NH', 'New Jersey': 'NJ', 'New Mexico': 'NM',
    'New York': 'NY', 'North Carolina': 'NC', 'North Dakota': 'ND', 'Ohio': 'OH', 'Oklahoma': 'OK',
    'Oregon': 'OR', 'Pennsylvania': 'PA', 'Rhode Island': 'RI', 'South Carolina': 'SC',
    'South Dakota': 'SD', 'Tennessee': 'TN', 'Texas': 'TX', 'Utah': 'UT', 'Vermont': 'VT',
    'Virginia': 'VA', 'Washington State': 'WA', 'Washington': 'WA', 'West Virginia': 'WV',
    'Wisconsin': 'WI', 'Wyoming': 'WY', 'Washington D.C.': 'DC',
}
PROVINCES = {
    'Alberta': 'AB', 'British Columbia': 'BC', 'Manitoba': 'MB', 'New Brunswick': 'NB',
    'Newfoundland and Labrador': 'NL', 'Nova Scotia': 'NS', 'Ontario': 'ON', 'Quebec': 'QC',
    'Saskatchewan': 'SK', 'Prince Edward Island': 'PE', 'Yukon': 'YT',
    'Northwest Territories': 'NT', 'Nunavut': 'NU',
    # shared NPAs: the first province named (the region only picks state/province rules;
    # Canada has one national rule)
    'Nova Scotia/Prince Edward Island': 'NS', 'Northwest Territories/Nunavut/Yukon': 'NT',
}
# US territories in NANP: ISO 3166-2:US subdivision codes, so federal rules apply.
US_TERRITORIES = {'PR': 'US-PR', 'VI': 'US-VI', 'GU': 'US-GU', 'AS': 'US-AS', 'MP': 'US-MP'}


def region_of_name(name):
    if name in STATES:
        return 'US-' + STATES[name]
    if name in PROVINCES:
        return 'CA-' + PROVINCES[name]
    if ', ' in name:
        st = name.rsplit(', ', 1)[1]
        if st in STATES.values():
            return 'US-' + st
        if st in {v for v in PROVINCES.values()}:
            return 'CA-' + st
    return None


def npa_region(npa):
    g = GEOCODE_DATA.get('1' + npa, {}).get('en')
    r = region_of_name(g) if g else None
    if r:
        return r
    votes = collections.Counter()
    for k, v in GEOCODE_DATA.items():
        if k.startswith('1' + npa) and len(k) > 4:
            rr = region_of_name(v.get('en', ''))
            if rr:
                votes[rr] += 1
    if votes:
        return votes.most_common(1)[0][0]
    try:
        cc = phonenumbers.region_code_for_number(phonenumbers.parse('+1' + npa + '2345678'))
    except phonenumbers.NumberParseException:
        cc = None
    if cc in US_TERRITORIES:
        return US_TERRITORIES[cc]
    if cc and cc not in ('US', 'CA', 'ZZ', '001'):
        return cc
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    overrides = {}
    with open(os.path.join(here, '..', 'quiet-hours', 'zones', 'nanp-overrides.tsv'), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                npa, region, zones = line.split()[:3]
                overrides[npa] = (region, zones)
    keys = sorted(k for k in TIMEZONE_DATA if k.startswith('1') and len(k) >= 4)
    npas = sorted({k[1:4] for k in keys} | set(overrides))
    out = []
    for npa in npas:
        sub = [k for k in keys if k[1:4] == npa]
        allz = set()
        for k in sub:
            allz.update(z for z in TIMEZONE_DATA[k] if z != 'Etc/Unknown')
        if not allz and npa not in overrides:
            continue  # non-geographic
        region = npa_region(npa)
        zones = ','.join(sorted(allz))
        if npa in overrides:
            region, zones = overrides[npa]
        if not region:
            continue
        out.append('%s\t%s\t%s' % (npa, region, zones))
        for k in sub:
            if len(k) == 4:
                continue
            z = ','.join(sorted(TIMEZONE_DATA[k]))
            if z != zones:
                out.append('%s\t-\t%s' % (k[1:], z))
    ver = getattr(phonenumbers, '__version__', '?')
    print('# NANP prefix -> region (ISO 3166-2) and IANA zones. Generated by scripts/gen-nanp-zones.py')
    print('# on %s from libphonenumber %s timezone and geocoding data (Apache-2.0,' % (
        datetime.date.today().isoformat(), ver))
    print('# Debian python3-phonenumbers) and quiet-hours/zones/nanp-overrides.tsv. Do not edit: edit the')
    print('# overrides and run the script again. Columns: digits after +1 (3 = NPA, more = exchange), region')
    print('# ("-": the NPA\'s), zones (comma-separated; several = the intersection of their windows).')
    for line in out:
        print(line)


if __name__ == '__main__':
    sys.exit(main())
