"""CityGML as real national data writes it: PLATEAU (EPSG:6697, latitude first, ``uro:`` ADE
attributes, xAL address) and German AdV state data (``urn:adv:crs:…*…`` compound names)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

import cim
from cim.crs import resolve_crs

# PLATEAU-like building: LoD1 solid, 4 m x 2.5 m (10 m²) in Tokyo, coordinates lat lon h.
_LAT0, _LON0 = 35.681, 139.767
_DLAT = 2.5 / 110_940.0   # ~2.5 m northwards
_DLON = 4.0 / 90_500.0    # ~4 m eastwards at 35.7°N


def _ring(z):
    pts = [(_LAT0, _LON0), (_LAT0, _LON0 + _DLON), (_LAT0 + _DLAT, _LON0 + _DLON),
           (_LAT0 + _DLAT, _LON0), (_LAT0, _LON0)]
    return " ".join(f"{a:.9f} {b:.9f} {z}" for a, b in pts)


def _poly(ring):
    return (f"<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>"
            f"{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
            f"</gml:surfaceMember>")


PLATEAU = f"""<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0"
  xmlns:bldg="http://www.opengis.net/citygml/building/2.0"
  xmlns:gml="http://www.opengis.net/gml"
  xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0"
  xmlns:uro="https://www.geospatial.jp/iur/uro/3.0">
 <gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697"
   srsDimension="3"><gml:lowerCorner>35.68 139.76 0</gml:lowerCorner>
   <gml:upperCorner>35.69 139.77 20</gml:upperCorner></gml:Envelope></gml:boundedBy>
 <core:cityObjectMember>
  <bldg:Building gml:id="bldg_1">
   <bldg:usage codeSpace="../../codelists/Building_usage.xml">411</bldg:usage>
   <bldg:measuredHeight uom="m">9.5</bldg:measuredHeight>
   <bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>
     {_poly(_ring(3.0))}{_poly(_ring(12.5))}
   </gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>
   <bldg:address><core:Address><core:xalAddress><xAL:AddressDetails><xAL:Country>
     <xAL:CountryName>日本</xAL:CountryName><xAL:Locality Type="Town">
     <xAL:LocalityName Type="Town">東京都千代田区丸の内一丁目</xAL:LocalityName>
     </xAL:Locality></xAL:Country></xAL:AddressDetails></core:xalAddress></core:Address>
   </bldg:address>
   <uro:buildingIDAttribute><uro:BuildingIDAttribute>
     <uro:buildingID>13101-bldg-1</uro:buildingID>
     <uro:prefecture codeSpace="../../codelists/Common_localPublicAuthorities.xml">13
     </uro:prefecture></uro:BuildingIDAttribute></uro:buildingIDAttribute>
   <uro:buildingDetailAttribute><uro:BuildingDetailAttribute>
     <uro:siteArea uom="m2">120.5</uro:siteArea>
     <uro:surveyYear>2020</uro:surveyYear></uro:BuildingDetailAttribute>
   </uro:buildingDetailAttribute>
  </bldg:Building>
 </core:cityObjectMember>
</core:CityModel>
"""


def test_plateau_latitude_first_epsg6697(tmp_path):
    p = tmp_path / "53394611_bldg_6697.gml"
    p.write_text(PLATEAU, encoding="utf-8")
    city = cim.load(p)
    assert city.crs.to_epsg() == 6697 and len(city.buildings) == 1
    lon0, lat0, lon1, lat1 = city.bounds_wgs84()
    assert lon0 == pytest.approx(_LON0, abs=1e-6) and lat0 == pytest.approx(_LAT0, abs=1e-6)
    assert lon1 > lon0 and lat1 > lat0
    # the 10 m² footprint is kept (an area threshold in degrees² would drop it), and its
    # floor area comes in m²: compare with a geodesic area from pyproj
    b = city.buildings
    (rings,) = b.footprint.polygons_of(0)
    geod = pyproj.Geod(ellps="GRS80")
    area, _ = geod.polygon_area_perimeter(rings[0][:, 0], rings[0][:, 1])
    assert abs(area) == pytest.approx(10.0, rel=0.01)
    # 9.5 m high: 3 storeys of the reader's 3 m
    assert b.floor_area[0] == pytest.approx(3 * abs(area), rel=0.01)
    metric = city.to_metric()
    assert np.isfinite(metric.buildings.footprint.vertices).all()
    assert metric.buildings.footprint.areas()[0] == pytest.approx(10.0, rel=0.01)
    a = b.attributes.row(0)
    assert a["uro:buildingID"] == "13101-bldg-1" and a["uro:prefecture"] == "13"
    assert a["uro:siteArea"] == 120.5 and a["uro:surveyYear"] == "2020"
    assert a["address.LocalityName"] == "東京都千代田区丸の内一丁目"
    assert a["address.CountryName"] == "日本"
    assert a["measuredHeight"] == 9.5 and a["measuredHeight_uom"] == "m"


def test_plateau_written_longitude_first_is_not_swapped(tmp_path):
    """Some converters write EPSG:6697 data longitude first: the values say so."""
    text = PLATEAU
    for z in ("3.0", "12.5"):
        ring = _ring(z)
        vals = ring.split()
        swapped = " ".join(f"{vals[i + 1]} {vals[i]} {vals[i + 2]}" for i in range(0, len(vals), 3))
        text = text.replace(ring, swapped)
    p = tmp_path / "lonfirst.gml"
    p.write_text(text, encoding="utf-8")
    lon0, lat0, _, _ = cim.load(p).bounds_wgs84()
    assert lon0 == pytest.approx(_LON0, abs=1e-6) and lat0 == pytest.approx(_LAT0, abs=1e-6)


@pytest.mark.parametrize("name, epsg_h, epsg_v", [
    ("urn:adv:crs:DE_DHDN_3GK4*DE_DHN92_NH", 5678, 5783),
    ("urn:adv:crs:DE_DHDN_3GK3*DE_DHHN92_NH", 5677, 5783),
    ("urn:adv:crs:ETRS89_UTM32*DE_DHHN2016_NH", 25832, 7837),
    ("urn:adv:crs:ETRS89_UTM33*DE_DHHN92_NH", 25833, 5783),
    ("urn:adv:crs:ETRS89_UTM32", 25832, None),
])
def test_adv_names(name, epsg_h, epsg_v):
    crs = resolve_crs(name)
    subs = crs.sub_crs_list if crs.is_compound else [crs]
    assert subs[0].to_epsg() == epsg_h
    assert (subs[1].to_epsg() if len(subs) > 1 else None) == epsg_v
    assert crs.axis_info[0].direction == "east"  # AdV data is written easting first


def test_adv_citygml_loads_in_place(tmp_path):
    x0, y0 = 4_468_000.0, 5_333_000.0  # Gauss-Krüger zone 4, Munich
    ring = " ".join(f"{x0 + dx} {y0 + dy} 520" for dx, dy in
                    ((0, 0), (10, 0), (10, 10), (0, 10), (0, 0)))
    top = ring.replace(" 520", " 530")
    text = PLATEAU.replace("http://www.opengis.net/def/crs/EPSG/0/6697",
                           "urn:adv:crs:DE_DHDN_3GK4*DE_DHN92_NH")
    text = text.replace(_ring(3.0), ring).replace(_ring(12.5), top)
    p = tmp_path / "lod1_adv.gml"
    p.write_text(text, encoding="utf-8")
    city = cim.load(p)
    assert city.buildings.footprint.areas()[0] == pytest.approx(100.0)
    lon0, lat0, _, _ = city.bounds_wgs84()
    assert 11.0 < lon0 < 12.0 and 48.0 < lat0 < 48.3  # Munich
