-- Live hubs reload what another hub changed (automation, users): every change of a
-- document is told on the channel `opencontrol_docs` with its key (docs/scale.md).
CREATE OR REPLACE FUNCTION opencontrol_document_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('opencontrol_docs', OLD.key);
    ELSE
        PERFORM pg_notify('opencontrol_docs', NEW.key);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS documents_notify ON documents;
CREATE TRIGGER documents_notify AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION opencontrol_document_changed();
