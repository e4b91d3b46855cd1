DROP TABLE gdp_growth;
DROP TABLE facilities;
DROP TABLE home_modifications;
DROP TABLE file_records;
DROP TABLE grant_suspensions;
DROP TABLE subsidy_grants;
DROP TABLE subsidy_policies;
