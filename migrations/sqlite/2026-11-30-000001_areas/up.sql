-- The district, its towns/streets (镇街道) and, added later by an admin, villages/communities (村社区).
-- Codes are the national statistics division codes.
CREATE TABLE areas (
    code        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'town', 'village')),
    parent_code TEXT REFERENCES areas (code),
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK ((level = 'district') = (parent_code IS NULL))
);
CREATE INDEX areas_parent_code ON areas (parent_code);

INSERT INTO areas (code, name, level, parent_code) VALUES
  ('330213', '奉化区', 'district', NULL),
  ('330213001', '锦屏街道', 'town', '330213'),
  ('330213002', '岳林街道', 'town', '330213'),
  ('330213003', '江口街道', 'town', '330213'),
  ('330213004', '西坞街道', 'town', '330213'),
  ('330213005', '萧王庙街道', 'town', '330213'),
  ('330213006', '方桥街道', 'town', '330213'),
  ('330213007', '尚田街道', 'town', '330213'),
  ('330213008', '莼湖街道', 'town', '330213'),
  ('330213100', '溪口镇', 'town', '330213'),
  ('330213106', '裘村镇', 'town', '330213'),
  ('330213107', '大堰镇', 'town', '330213'),
  ('330213108', '松岙镇', 'town', '330213');
