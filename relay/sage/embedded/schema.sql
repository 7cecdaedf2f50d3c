-- Embedded Sage 100 Contractor company database (SQLite stand-in).
--
-- Table and column names are Sage's own, a practical subset, and so are the declared SQL
-- Server types and NULL / NOT NULL (reference/sage-schema/real_schema.json; where it is
-- silent, the stricter choice: docs/decisions.md). tests/relay/test_sage_schema.py holds
-- the list of what the connector reads or writes and checks this file against it.
-- Conventions (Sage's, as the EF scaffold of a live company shows them):
--   * every table has _idnum (uniqueidentifier) and insdte/insusr/upddte/updusr audit
--     columns; insdte defaults to UTC now (Sage: getutcdate()); upddte is set by the
--     <table>_upddte triggers that EmbeddedSage.init() creates for every table.
--   * text is nvarchar and NOT NULL: an optional text Sage has not got is '' (so "no PO"
--     or "no subcontract" is ''), never NULL; numbers, amounts, statuses and flags are
--     NOT NULL too: "no phase" is phase 0. NULL is left to optional references the EF
--     scaffold shows nullable (a vendor's default cost type, ...) and to optional dates.
--   * decimals are DECIMAL(p,s): SQLite stores them as numbers (NUMERIC affinity: an
--     integer or a float, exact to p <= 15 digits) and compares them as numbers; the
--     embedded Sage reads them back as Decimal with the column's scale, and cost codes
--     (decimal(15,3): cstcde.recnum and every cstcde column) as the text "3300.000".
--   * dates are DATE, ISO text in SQLite ('2025-03-01'), read back as datetime.date;
--     a subcontract's contract date and a PO's order date are required (NOT NULL).
--   * recnum of a document (subcon, pchord, ...) is the next number, chosen inside the
--     write transaction; lines link to their header by _idref -> header._idnum and repeat
--     the header's recnum.
--   * document numbers (ctcnum, ordnum) compare case-insensitively like SQL Server's
--     default collation.
-- Every statement is idempotent (IF NOT EXISTS): init() may run any number of times on a
-- file of this layout (schema.py LAYOUT_VERSION; an older file is refused, not patched).

-- ---- master data ------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS reccln (              -- clients (owners): actrec.clnnum
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- client number
    clnnme  NVARCHAR(50) NOT NULL,               -- long name
    shtnme  NVARCHAR(30) NOT NULL DEFAULT '',
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS cstdiv (              -- cost divisions: cstcde.divnum
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- division number
    divnme  NVARCHAR(50) NOT NULL,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS source (              -- posting sources (journals): jobcst.srcnum
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- source number
    srcnme  NVARCHAR(50) NOT NULL,               -- journal name
    srcdsc  NVARCHAR(50) NOT NULL DEFAULT '',
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS actrec (              -- jobs
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- job number
    jobnme  NVARCHAR(75) NOT NULL,
    shtnme  NVARCHAR(30) NOT NULL DEFAULT '',
    clnnum  INT REFERENCES reccln (recnum),      -- client; NULL = none
    status  TINYINT NOT NULL DEFAULT 4 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Bid 2 Refused 3 Contract 4 Current
                                                 -- 5 Complete 6 Closed
    jobtyp  INT,
    cntrct  DECIMAL(12,2) NOT NULL DEFAULT 0,
    retain  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- retention %
    addrs1  NVARCHAR(50) NOT NULL DEFAULT '',
    addrs2  NVARCHAR(50) NOT NULL DEFAULT '',
    ctynme  NVARCHAR(50) NOT NULL DEFAULT '',
    state_  NVARCHAR(2) NOT NULL DEFAULT '',
    zipcde  NVARCHAR(10) NOT NULL DEFAULT '',
    connum  NVARCHAR(30) NOT NULL DEFAULT '',    -- contract number
    pchord  NVARCHAR(20) NOT NULL DEFAULT '',    -- client's PO number
    sprvsr  INT,                                 -- -> employ
    estemp  INT,                                 -- -> employ
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS jobphs (              -- phases (Procore sub jobs)
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL REFERENCES actrec (recnum),   -- job
    phsnum  BIGINT NOT NULL,
    phsnme  NVARCHAR(50) NOT NULL,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128),
    PRIMARY KEY (recnum, phsnum)
);

CREATE TABLE IF NOT EXISTS cstcde (              -- cost codes, company-wide
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  DECIMAL(15,3) NOT NULL PRIMARY KEY,  -- the code: 3300.000
    cdenme  NVARCHAR(50) NOT NULL,
    untdsc  NVARCHAR(10) NOT NULL DEFAULT '',    -- unit description
    divnum  INT REFERENCES cstdiv (recnum),      -- division; NULL = none
    inactv  NVARCHAR(2) NOT NULL DEFAULT '',     -- 'T' = inactive
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS csttyp (              -- the nine cost types
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY CHECK (recnum BETWEEN 1 AND 9),
    typnme  NVARCHAR(50) NOT NULL,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS actpay (              -- vendors
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- vendor number
    vndnme  NVARCHAR(75) NOT NULL,
    shtnme  NVARCHAR(30) NOT NULL DEFAULT '',
    vndtyp  INT,                                 -- -> vendor type
    cdedft  DECIMAL(15,3),                       -- default cost code
    typdft  INT,                                 -- default cost type
    dupchk  INT NOT NULL DEFAULT 0,              -- 1 = allow duplicate invoice numbers
    wrndft  INT NOT NULL DEFAULT 0,              -- PO warning 0/1/2
    inactv  TINYINT NOT NULL DEFAULT 0,
    addrs1  NVARCHAR(50) NOT NULL DEFAULT '',
    addrs2  NVARCHAR(50) NOT NULL DEFAULT '',
    ctynme  NVARCHAR(50) NOT NULL DEFAULT '',
    state_  NVARCHAR(2) NOT NULL DEFAULT '',
    zipcde  NVARCHAR(10) NOT NULL DEFAULT '',
    fedidn  NVARCHAR(64) NOT NULL DEFAULT '',    -- federal tax id (Sage keeps it encrypted);
                                                 -- column name UNCONFIRMED (see rules.py)
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

-- ---- commitments --------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS subcon (              -- subcontracts
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    ctcnum  NVARCHAR(20) NOT NULL,               -- subcontract number, unique per job
    condte  DATE NOT NULL,                       -- contract date
    vndnum  BIGINT NOT NULL REFERENCES actpay (recnum),
    jobnum  BIGINT NOT NULL REFERENCES actrec (recnum),
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    status  TINYINT NOT NULL DEFAULT 3 CHECK (status BETWEEN 1 AND 6),
    contyp  INT,
    rtnrte  DECIMAL(5,2) NOT NULL DEFAULT 0,     -- retention %
    lckedt  INT NOT NULL DEFAULT 0,              -- Lock Edit: non-zero refuses modifies
    paysts  INT NOT NULL DEFAULT 0,              -- hold payment
    cntttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- original contract
    chgttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- approved changes
    ctcttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- new contract = cntttl + chgttl
    invttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- invoiced
    balttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- remaining = ctcttl - invttl
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
CREATE UNIQUE INDEX IF NOT EXISTS subcon_jobnum_ctcnum ON subcon (jobnum, ctcnum COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS sbcnln (              -- subcontract lines
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES subcon (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = subcon.recnum
    linnum  INT NOT NULL,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    cstcde  DECIMAL(15,3) NOT NULL REFERENCES cstcde (recnum),
    csttyp  TINYINT NOT NULL REFERENCES csttyp (recnum),
    amount  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- original
    change  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- approved changes
    cntrct  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- new contract = amount + change
    billed  DECIMAL(12,2) NOT NULL DEFAULT 0,
    remain  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- cntrct - billed
    linref  NVARCHAR(20) NOT NULL DEFAULT '',
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128),
    UNIQUE (recnum, linnum)
);

CREATE TABLE IF NOT EXISTS pchord (              -- purchase orders
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    ordnum  NVARCHAR(20) NOT NULL,               -- PO number, unique company-wide
    orddte  DATE NOT NULL,                       -- order date
    vndnum  BIGINT NOT NULL REFERENCES actpay (recnum),
    jobnum  BIGINT NOT NULL REFERENCES actrec (recnum),
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    status  TINYINT NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Open 2 Review 3 Dispute 4 Closed
                                                 -- 5 Void 6 Master
    pchttl  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- sum of extttl
    pchbal  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- open balance
    lckedt  INT NOT NULL DEFAULT 0,              -- Lock Edit: non-zero refuses modifies
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
CREATE UNIQUE INDEX IF NOT EXISTS pchord_ordnum ON pchord (ordnum COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS pcorln (              -- purchase order lines
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES pchord (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = pchord.recnum
    linnum  INT NOT NULL,
    prtdsc  NVARCHAR(50) NOT NULL DEFAULT '',
    linqty  DECIMAL(14,4) NOT NULL DEFAULT 0,
    linprc  DECIMAL(14,4) NOT NULL DEFAULT 0,
    extttl  DECIMAL(12,2) NOT NULL DEFAULT 0,
    rcvdte  DECIMAL(14,4) NOT NULL DEFAULT 0,    -- quantity received to date
    cancel  DECIMAL(14,4) NOT NULL DEFAULT 0,    -- quantity canceled
    cstcde  DECIMAL(15,3) NOT NULL REFERENCES cstcde (recnum),
    csttyp  TINYINT NOT NULL REFERENCES csttyp (recnum),
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128),
    UNIQUE (recnum, linnum)
);

-- ---- change orders (6-4-1: prime and subcontract in one record) ---------------------------

CREATE TABLE IF NOT EXISTS prmchg (
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    chgnum  NVARCHAR(20) NOT NULL,               -- change number, unique per job + phase
    chgdte  DATE NOT NULL,                       -- change order date (required)
    jobnum  BIGINT NOT NULL,
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    chgtyp  INT,
    status  TINYINT NOT NULL DEFAULT 2 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Approved 2 Open 3 Review 4 Disputed
                                                 -- 5 Void 6 Rejected
    reqamt  DECIMAL(12,2) NOT NULL DEFAULT 0,
    appamt  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cstamt  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- cost amount
    aprdte  DATE,                                -- approved date; NULL until approved
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
-- Change numbers are per job and, within a job, per phase (Sage's help, About automatic
-- numbering for change orders); rules.check_change_order_number refuses a taken one first.
CREATE UNIQUE INDEX IF NOT EXISTS prmchg_job_phase_chgnum
    ON prmchg (jobnum, phsnum, chgnum COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS pmcgln (              -- prime change order lines
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES prmchg (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = prmchg.recnum
    linnum  INT NOT NULL,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    reqprc  DECIMAL(12,2) NOT NULL DEFAULT 0,
    aprprc  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cstcde  DECIMAL(15,3) NOT NULL,
    csttyp  TINYINT NOT NULL,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS sbcgln (              -- budget / subcontract change lines
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES prmchg (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = prmchg.recnum
    linnum  INT NOT NULL,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    bdgprc  DECIMAL(12,2) NOT NULL DEFAULT 0,
    chghrs  DECIMAL(12,2) NOT NULL DEFAULT 0,
    vndnum  BIGINT,
    vndctc  INT,                                 -- subcon.recnum
    ctclin  INT,                                 -- sbcnln.linnum
    chgsts  INT,                                 -- line status (same codes as prmchg)
    cstcde  DECIMAL(15,3) NOT NULL,
    csttyp  TINYINT NOT NULL,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

-- ---- budget -------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS budget (
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,         -- job
    lckedt  INT NOT NULL DEFAULT 0,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS bdglin (              -- one line per job / phase / cost code
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER REFERENCES budget (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- job
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    linnum  INT NOT NULL,                        -- line number within job + phase
    cstcde  DECIMAL(15,3) NOT NULL,
    untdsc  NVARCHAR(10) NOT NULL DEFAULT '',    -- unit
    hrsbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    matbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    labbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    eqpbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    subbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    othbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    usrcs6  DECIMAL(12,2) NOT NULL DEFAULT 0,
    usrcs7  DECIMAL(12,2) NOT NULL DEFAULT 0,
    usrcs8  DECIMAL(12,2) NOT NULL DEFAULT 0,
    usrcs9  DECIMAL(12,2) NOT NULL DEFAULT 0,
    ttlbdg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    estunt  DECIMAL(14,4) NOT NULL DEFAULT 0,
    untcst  DECIMAL(14,4) NOT NULL DEFAULT 0,
    hrsorg  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- originals: never altered by change orders
    matorg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    laborg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    eqporg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    suborg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    othorg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cs6org  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cs7org  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cs8org  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cs9org  DECIMAL(12,2) NOT NULL DEFAULT 0,
    ttlorg  DECIMAL(12,2) NOT NULL DEFAULT 0,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
CREATE UNIQUE INDEX IF NOT EXISTS bdglin_job_phase_code ON bdglin (recnum, phsnum, cstcde);
CREATE UNIQUE INDEX IF NOT EXISTS bdglin_job_phase_line ON bdglin (recnum, phsnum, linnum);

-- ---- accounts payable (types and NULLs as the EF scaffold of a live company shows) --------

CREATE TABLE IF NOT EXISTS acpinv (              -- payable invoices
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    invnum  NVARCHAR(20) NOT NULL,               -- unique per vendor unless dupchk
    vndnum  BIGINT NOT NULL,
    jobnum  BIGINT,
    phsnum  BIGINT,
    pchord  NVARCHAR(20) NOT NULL DEFAULT '',    -- PO number; '' = none
    ctcnum  NVARCHAR(20) NOT NULL DEFAULT '',    -- subcontract number; '' = none
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    invdte  DATE,
    duedte  DATE,
    invtyp  TINYINT NOT NULL DEFAULT 1,          -- 1 Contract 2 Memo
    status  TINYINT NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 5),
                                                 -- 1 Open 2 Review 3 Dispute 4 Paid 5 Void
    invttl  DECIMAL(12,2) NOT NULL DEFAULT 0,
    retain  DECIMAL(12,2) NOT NULL DEFAULT 0,
    setpay  DECIMAL(12,2) NOT NULL DEFAULT 0,
    amtpad  DECIMAL(12,2) NOT NULL DEFAULT 0,
    ttlpad  DECIMAL(12,2) NOT NULL DEFAULT 0,
    invbal  DECIMAL(12,2) NOT NULL DEFAULT 0,
    actper  TINYINT NOT NULL DEFAULT 0,          -- posting period 0-12
    postyr  SMALLINT NOT NULL DEFAULT 0,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS apivln (              -- payable invoice lines (GL, no cost code)
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES acpinv (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = acpinv.recnum
    linnum  INT NOT NULL,
    prtdsc  NVARCHAR(50) NOT NULL DEFAULT '',
    linqty  DECIMAL(14,4) NOT NULL DEFAULT 0,
    linprc  DECIMAL(14,4) NOT NULL DEFAULT 0,
    extttl  DECIMAL(12,2) NOT NULL DEFAULT 0,
    actnum  INT,                                 -- GL account
    subact  TINYINT,
    linref  NVARCHAR(20),                        -- subcontract line billed (sbcnln.linnum)
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS acppmt (              -- payments of payable invoices
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES acpinv (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = acpinv.recnum
    chknum  NVARCHAR(20) NOT NULL DEFAULT '',
    chkdte  DATE NOT NULL,                       -- payment date (required)
    amount  DECIMAL(12,2) NOT NULL DEFAULT 0,
    dsctkn  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- discount taken
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

-- ---- job cost (types and NULLs as the EF scaffold of a live company shows) ----------------

CREATE TABLE IF NOT EXISTS jobcst (
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    jobnum  BIGINT NOT NULL,
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    trnnum  NVARCHAR(20) NOT NULL DEFAULT '',
    trndte  DATE,
    entdte  DATE,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    cstcde  DECIMAL(15,3) NOT NULL,
    csttyp  TINYINT NOT NULL,
    cstamt  DECIMAL(12,2) NOT NULL DEFAULT 0,
    csthrs  DECIMAL(7,2) NOT NULL DEFAULT 0,
    vndnum  BIGINT,
    empnum  BIGINT,
    eqpnum  BIGINT,
    payrec  BIGINT,
    srcnum  TINYINT NOT NULL DEFAULT 0,          -- -> source (journal)
    actprd  TINYINT NOT NULL DEFAULT 0,
    postyr  SMALLINT NOT NULL DEFAULT 0,
    status  TINYINT NOT NULL DEFAULT 1,          -- 1 Open 2 Void
    bllsts  TINYINT NOT NULL DEFAULT 0,
    acrinv  BIGINT NOT NULL DEFAULT 0,
    lgrrec  BIGINT NOT NULL DEFAULT 0,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
-- The job cost pull's order within a job (relay/sage/reads.py CHANGED_AT, exactly as it is
-- written there) and the look-up of the payable invoice an AP row distributes: indexes of
-- the stand-in's own (a real Sage has its own), so a bulk of postings pages fast. Indexes
-- only: init() adds them to a file of this layout too, no layout change.
CREATE INDEX IF NOT EXISTS jobcst_job_changed
    ON jobcst (jobnum, coalesce(upddte, insdte, '1900-01-01 00:00:00.000'), recnum);
CREATE INDEX IF NOT EXISTS acpinv_vendor_invoice ON acpinv (vndnum, invnum, jobnum);

-- ---- accounts receivable (acrinv: types and NULLs as the EF scaffold shows) --------------

CREATE TABLE IF NOT EXISTS acrinv (              -- receivable (owner) invoices
    _idnum  UNIQUEIDENTIFIER NOT NULL UNIQUE,
    recnum  BIGINT NOT NULL PRIMARY KEY,
    invnum  NVARCHAR(20) NOT NULL,
    jobnum  BIGINT NOT NULL REFERENCES actrec (recnum),
    phsnum  BIGINT NOT NULL DEFAULT 0,           -- 0 = no phase
    invdte  DATE,
    duedte  DATE,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    pchord  NVARCHAR(20) NOT NULL DEFAULT '',    -- client's PO number; '' = none
    invtyp  TINYINT NOT NULL DEFAULT 1,          -- 1 Contract 2 Memo
    status  TINYINT NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 5),
                                                 -- 1 Open 2 Review 3 Dispute 4 Paid 5 Void
    invttl  DECIMAL(12,2) NOT NULL DEFAULT 0,
    retain  DECIMAL(12,2) NOT NULL DEFAULT 0,
    amtpad  DECIMAL(12,2) NOT NULL DEFAULT 0,
    ttlpad  DECIMAL(12,2) NOT NULL DEFAULT 0,
    invbal  DECIMAL(12,2) NOT NULL DEFAULT 0,
    invnet  DECIMAL(12,2) NOT NULL DEFAULT 0,
    actper  TINYINT NOT NULL DEFAULT 0,          -- posting period 0-12
    postyr  SMALLINT NOT NULL DEFAULT 0,
    lgrrec  BIGINT NOT NULL DEFAULT 0,
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

CREATE TABLE IF NOT EXISTS arivln (              -- receivable invoice lines
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES acrinv (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = acrinv.recnum
    linnum  INT NOT NULL,
    dscrpt  NVARCHAR(50) NOT NULL DEFAULT '',
    linqty  DECIMAL(14,4) NOT NULL DEFAULT 0,
    linprc  DECIMAL(14,4) NOT NULL DEFAULT 0,
    extprc  DECIMAL(12,2) NOT NULL DEFAULT 0,
    cstcde  DECIMAL(15,3) NOT NULL REFERENCES cstcde (recnum),
    lgract  BIGINT,                              -- GL account; NULL = the default
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128),
    UNIQUE (recnum, linnum)
);

CREATE TABLE IF NOT EXISTS acrpmt (              -- cash receipts against receivable invoices
    _idnum  UNIQUEIDENTIFIER NOT NULL PRIMARY KEY,
    _idref  UNIQUEIDENTIFIER NOT NULL REFERENCES acrinv (_idnum) ON DELETE CASCADE,
    recnum  BIGINT NOT NULL,                     -- = acrinv.recnum
    chknum  NVARCHAR(20) NOT NULL DEFAULT '',
    chkdte  DATE NOT NULL,                       -- receipt date (required)
    amount  DECIMAL(12,2) NOT NULL DEFAULT 0,
    dsctkn  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- discount taken
    aplcrd  DECIMAL(12,2) NOT NULL DEFAULT 0,    -- credit taken
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);

-- ---- embedded only: the company setup Sage keeps elsewhere --------------------------------
-- Names starting with _ are the stand-in's own, not Sage tables: Reads.tables() leaves
-- them out. A real Sage keeps its posting periods in its company setup (General Ledger:
-- posting periods, locked periods), which real_schema.json does not show; the embedded Sage
-- keeps them in this one row (periods.py). No row = the defaults: the current calendar
-- year, the current period this month, nothing locked.

CREATE TABLE IF NOT EXISTS _posting (            -- posting periods (one row, recnum 1)
    recnum  INTEGER NOT NULL PRIMARY KEY CHECK (recnum = 1),
    postyr  SMALLINT NOT NULL,                   -- the posting year
    curprd  TINYINT NOT NULL CHECK (curprd BETWEEN 1 AND 12),  -- the current period
    lckprd  NVARCHAR(40) NOT NULL DEFAULT '',    -- locked periods of postyr: '2,3'
    lckdte  DATE,                                -- nothing dated before it posts; NULL = none
    insdte  DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  NVARCHAR(128),
    upddte  DATETIME,
    updusr  NVARCHAR(128)
);
