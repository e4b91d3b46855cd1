-- What the coverage indicators read beyond the file: where a resident lived on a past day,
-- whether a per-year record affirms its fact, and the indicator definitions as versioned data.

-- A move between towns of the district, effective on `moved_on`. The town on a day D is the
-- `from_town` of the earliest move after D, or the resident's current town when there is none.
CREATE TABLE resident_moves (
    id           INTEGER PRIMARY KEY NOT NULL,
    public_id    TEXT NOT NULL UNIQUE,
    resident_id  INTEGER NOT NULL REFERENCES residents (id),
    from_town    TEXT NOT NULL REFERENCES areas (code),
    from_village TEXT REFERENCES areas (code),
    to_town      TEXT NOT NULL REFERENCES areas (code),
    to_village   TEXT REFERENCES areas (code),
    moved_on     DATE NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    CHECK (from_town <> to_town)
);
CREATE INDEX resident_moves_resident ON resident_moves (resident_id, moved_on);

-- False for a record that states its fact does not hold (an insurance year not enrolled), so
-- reports need not read the record's JSON.
ALTER TABLE file_records ADD COLUMN holds BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE file_records SET holds = FALSE
 WHERE section = 'insurance' AND data LIKE '%"enrolled":false%';

-- Reports read one section at a time for a range of residents; the index holds every column
-- they read, so no table row is visited.
CREATE INDEX file_records_section ON file_records (section, resident_id, start_on, end_on, kind, holds);

-- A version of the 14 indicator definitions, in force from `effective_from` until the next
-- version that is not withdrawn. `body` is the JSON list of definitions.
CREATE TABLE indicator_definitions (
    id              INTEGER PRIMARY KEY NOT NULL,
    public_id       TEXT NOT NULL UNIQUE,
    version         INTEGER NOT NULL UNIQUE,
    effective_from  DATE NOT NULL,
    body            TEXT NOT NULL,
    published_at    TIMESTAMP NOT NULL,
    published_by    TEXT,
    withdrawn_at    TIMESTAMP,
    withdraw_reason TEXT
);

INSERT INTO indicator_definitions (public_id, version, effective_from, body, published_at, published_by) VALUES
  ('00000000-0000-4000-8000-000000000101', 1, '2021-01-01', '[{"code":"income_growth","name":"残疾人家庭人均收入年均增速","name_en":"Per-capita household income growth of disabled persons","kind":"growth","comparator":"gte","target":null,"binding":false,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"living_subsidy_coverage","name":"困难残疾人生活补贴覆盖率","name_en":"Living subsidy coverage for low-income disabled persons","kind":"rate","comparator":"gt","target":99,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":"living"},{"code":"nursing_subsidy_coverage","name":"重度残疾人护理补贴覆盖率","name_en":"Nursing subsidy coverage for severely disabled persons","kind":"rate","comparator":"gt","target":99,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":"nursing"},{"code":"home_for_disabled_coverage","name":"“残疾人之家”覆盖率","name_en":"Coverage of towns by a Home for the Disabled","kind":"rate","comparator":"gte","target":90,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"care_institutions","name":"残疾人专业托养机构","name_en":"Specialised care institutions","kind":"count","comparator":"gte","target":1,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"child_rehab_institutions","name":"规范化残疾儿童康复机构","name_en":"Standardized child rehabilitation institutions","kind":"count","comparator":"gte","target":1,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"pension_insurance_rate","name":"残疾人城乡居民基本养老保险参保率","name_en":"Resident pension insurance enrolment rate","kind":"rate","comparator":"gte","target":99,"binding":false,"age_min":16,"age_max":59,"window":null,"subsidy":null},{"code":"medical_insurance_rate","name":"残疾人城乡居民基本医疗保险参保率","name_en":"Resident medical insurance enrolment rate","kind":"rate","comparator":"gt","target":99,"binding":false,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"employment_rate","name":"残疾人就业率","name_en":"Employment rate","kind":"rate","comparator":"gte","target":60,"binding":false,"age_min":16,"age_max":59,"window":null,"subsidy":null},{"code":"high_school_education_rate","name":"残疾学生接受高中阶段教育比例","name_en":"Share of disabled students in high-school-stage education","kind":"rate","comparator":"gte","target":85,"binding":true,"age_min":15,"age_max":17,"window":null,"subsidy":null},{"code":"rehab_service_coverage","name":"残疾人基本康复服务覆盖率","name_en":"Basic rehabilitation service coverage","kind":"rate","comparator":"gt","target":99,"binding":true,"age_min":null,"age_max":null,"window":"year_to_date","subsidy":null},{"code":"assistive_device_fitting_rate","name":"残疾人辅助器具适配率","name_en":"Assistive device fitting rate","kind":"rate","comparator":"gt","target":99,"binding":true,"age_min":null,"age_max":null,"window":"year_to_date","subsidy":null},{"code":"home_modification_rate","name":"符合条件残疾人家庭无障碍改造率","name_en":"Barrier-free home modification rate of eligible households","kind":"rate","comparator":"gte","target":95,"binding":true,"age_min":null,"age_max":null,"window":null,"subsidy":null},{"code":"culture_sports_coverage","name":"残疾人文体服务覆盖率","name_en":"Culture and sports service coverage","kind":"rate","comparator":"gte","target":95,"binding":false,"age_min":null,"age_max":null,"window":"year_to_date","subsidy":null}]', CURRENT_TIMESTAMP, NULL);
