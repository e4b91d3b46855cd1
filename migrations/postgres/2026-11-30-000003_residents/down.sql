DROP TABLE certificates;
DROP TABLE household_statuses;
DROP TABLE residents;
