DROP TABLE webhook_attempts;
DROP TABLE webhook_events;
DROP TABLE idempotency_keys;
DROP TABLE applications;
DROP TABLE integration_clients;
