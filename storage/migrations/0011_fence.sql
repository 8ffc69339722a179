-- The leader's fence (invariant 2, review M12), one definition for every fenced write.
-- The shared advisory lock is the one a change of leader takes exclusively
-- (store_lease.h, STORE_LEASE_LOCK_KEY): once it is held, no new leader can commit before
-- this transaction does. The epoch is read after the lock is granted, by a statement of its
-- own (a VOLATILE function's statements each take a new snapshot): a check inside the
-- caller's statement would read the snapshot taken before it waited for the lock, and miss
-- a change of leader that committed while it waited.
CREATE OR REPLACE FUNCTION floe_fence_holds(want bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1181511525);
    RETURN EXISTS (SELECT 1 FROM floe_leader WHERE name = 'scheduler' AND epoch = want);
END
$$;

-- The same, failing the statement (SQLSTATE FL001, store_pg's FLOE_EFENCED) when the
-- epoch no longer holds the lease: for writes that have no other way to say so.
CREATE OR REPLACE FUNCTION floe_fence(want bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT floe_fence_holds(want) THEN
        RAISE EXCEPTION 'epoch % no longer holds the lease', want USING ERRCODE = 'FL001';
    END IF;
    RETURN true;
END
$$;
