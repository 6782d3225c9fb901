-- The durable record of the vowel service: every raw event, as received (UTC times).
-- Applied by playbooks/vowel.yml (and by the tests); every statement is idempotent.
CREATE TABLE IF NOT EXISTS initial_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid CHAR(36) CHARACTER SET ascii NOT NULL,
    symbol CHAR(1) CHARACTER SET ascii NOT NULL,
    is_vowel BOOLEAN NOT NULL,          -- the answer the service gave
    created_at DATETIME(6) NOT NULL,    -- UTC
    KEY initial_events_uuid (uuid, id), -- a follow-up finds its request
    KEY initial_events_created (created_at),
    KEY initial_events_symbol_created (symbol, created_at)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS followup_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid CHAR(36) CHARACTER SET ascii NOT NULL,
    -- the latest initial request of this uuid stored before the follow-up; NULL: none
    initial_id BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL,    -- UTC
    KEY followup_events_uuid (uuid),
    KEY followup_events_initial (initial_id),
    KEY followup_events_created (created_at)
) ENGINE = InnoDB;
