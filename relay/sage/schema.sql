-- Embedded Sage 100 Contractor company database (SQLite stand-in).
--
-- Table and column names are Sage's own (reference/sage100c.md section 1), a practical
-- subset, so reads written against this file work against a real Sage SQL Server database.
-- Conventions:
--   * every table has _idnum (GUID text) and insdte/insusr/upddte/updusr audit columns;
--     insdte defaults to UTC now (Sage: getutcdate()); upddte is set by the
--     <table>_upddte triggers that EmbeddedSage.init() creates for every table.
--   * money and quantities are DECTEXT: TEXT affinity holding an exact decimal string
--     ("1500.00"); EmbeddedSage reads them back as decimal.Decimal, never as float.
--   * cost codes (cstcde.recnum and every cstcde column) are TEXT with exactly three
--     decimals ("3300.000"), Sage's decimal(15,3) written out.
--   * dates (condte, orddte) are ISO text ('2025-03-01'); Sage's columns are date.
--   * lines link to their header by _idref -> header._idnum and repeat the header recnum.
--   * document numbers (ctcnum, ordnum) compare case-insensitively like SQL Server's
--     default collation.
-- Every statement is idempotent (IF NOT EXISTS): init() may run any number of times.

-- ---- master data ------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS actrec (              -- jobs
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY,                 -- job number
    jobnme  TEXT NOT NULL,                       -- (75)
    shtnme  TEXT,                                -- (30)
    clnnum  INTEGER,                             -- -> reccln (clients)
    status  INTEGER NOT NULL DEFAULT 4 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Bid 2 Refused 3 Contract 4 Current
                                                 -- 5 Complete 6 Closed
    jobtyp  INTEGER,
    cntrct  DECTEXT NOT NULL DEFAULT '0.00',
    retain  DECTEXT NOT NULL DEFAULT '0.00',     -- retention %
    addrs1  TEXT,
    addrs2  TEXT,
    ctynme  TEXT,
    state_  TEXT,
    zipcde  TEXT,
    connum  TEXT,                                -- contract number (30)
    pchord  TEXT,                                -- client's PO number (30)
    sprvsr  INTEGER,                             -- -> employ
    estemp  INTEGER,                             -- -> employ
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS jobphs (              -- phases (Procore sub jobs)
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER NOT NULL REFERENCES actrec (recnum),   -- job
    phsnum  INTEGER NOT NULL,
    phsnme  TEXT NOT NULL,                       -- (50)
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT,
    PRIMARY KEY (recnum, phsnum)
);

CREATE TABLE IF NOT EXISTS cstcde (              -- cost codes, company-wide
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  TEXT PRIMARY KEY,                    -- decimal(15,3) as text: '3300.000'
    cdenme  TEXT NOT NULL,                       -- (50)
    untdsc  TEXT,                                -- unit description (10)
    divnum  INTEGER,                             -- -> cstdiv
    inactv  INTEGER NOT NULL DEFAULT 0,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS csttyp (              -- the nine cost types
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY CHECK (recnum BETWEEN 1 AND 9),
    typnme  TEXT NOT NULL,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS actpay (              -- vendors
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY,                 -- vendor number
    vndnme  TEXT NOT NULL,                       -- (75)
    shtnme  TEXT,                                -- (30)
    vndtyp  INTEGER,
    cdedft  TEXT,                                -- default cost code
    typdft  INTEGER,                             -- default cost type
    dupchk  INTEGER NOT NULL DEFAULT 0,          -- 1 = allow duplicate invoice numbers
    wrndft  INTEGER NOT NULL DEFAULT 0,          -- PO warning 0/1/2
    inactv  INTEGER NOT NULL DEFAULT 0,
    addrs1  TEXT,
    addrs2  TEXT,
    ctynme  TEXT,
    state_  TEXT,
    zipcde  TEXT,
    fedidn  TEXT,                                -- federal tax id (Sage: 64, encrypted);
                                                 -- column name UNCONFIRMED (see embedded.py)
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

-- ---- commitments --------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS subcon (              -- subcontracts
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY AUTOINCREMENT,
    ctcnum  TEXT NOT NULL,                       -- subcontract number (20), unique per job
    condte  TEXT,                                -- contract date, ISO 'YYYY-MM-DD'
    vndnum  INTEGER NOT NULL REFERENCES actpay (recnum),
    jobnum  INTEGER NOT NULL REFERENCES actrec (recnum),
    phsnum  INTEGER,
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    status  INTEGER NOT NULL DEFAULT 3 CHECK (status BETWEEN 1 AND 6),
    contyp  INTEGER,
    rtnrte  DECTEXT NOT NULL DEFAULT '0.00',     -- retention %
    lckedt  INTEGER NOT NULL DEFAULT 0,          -- Lock Edit: non-zero refuses modifies
    paysts  INTEGER NOT NULL DEFAULT 0,          -- hold payment
    cntttl  DECTEXT NOT NULL DEFAULT '0.00',     -- original contract
    chgttl  DECTEXT NOT NULL DEFAULT '0.00',     -- approved changes
    ctcttl  DECTEXT NOT NULL DEFAULT '0.00',     -- new contract = cntttl + chgttl
    invttl  DECTEXT NOT NULL DEFAULT '0.00',     -- invoiced
    balttl  DECTEXT NOT NULL DEFAULT '0.00',     -- remaining = ctcttl - invttl
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS subcon_jobnum_ctcnum ON subcon (jobnum, ctcnum COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS sbcnln (              -- subcontract lines
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES subcon (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = subcon.recnum
    linnum  INTEGER NOT NULL,
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    cstcde  TEXT REFERENCES cstcde (recnum),
    csttyp  INTEGER REFERENCES csttyp (recnum),
    amount  DECTEXT NOT NULL DEFAULT '0.00',     -- original
    change  DECTEXT NOT NULL DEFAULT '0.00',     -- approved changes
    cntrct  DECTEXT NOT NULL DEFAULT '0.00',     -- new contract = amount + change
    billed  DECTEXT NOT NULL DEFAULT '0.00',
    remain  DECTEXT NOT NULL DEFAULT '0.00',     -- cntrct - billed
    linref  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT,
    UNIQUE (recnum, linnum)
);

CREATE TABLE IF NOT EXISTS pchord (              -- purchase orders
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY AUTOINCREMENT,
    ordnum  TEXT NOT NULL,                       -- PO number (20), unique company-wide
    orddte  TEXT,                                -- order date, ISO 'YYYY-MM-DD'
    vndnum  INTEGER NOT NULL REFERENCES actpay (recnum),
    jobnum  INTEGER REFERENCES actrec (recnum),
    phsnum  INTEGER,
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    status  INTEGER NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Open 2 Review 3 Dispute 4 Closed
                                                 -- 5 Void 6 Master
    pchttl  DECTEXT NOT NULL DEFAULT '0.00',     -- sum of extttl
    pchbal  DECTEXT NOT NULL DEFAULT '0.00',     -- open balance
    lckedt  INTEGER NOT NULL DEFAULT 0,          -- Lock Edit: non-zero refuses modifies
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS pchord_ordnum ON pchord (ordnum COLLATE NOCASE);

CREATE TABLE IF NOT EXISTS pcorln (              -- purchase order lines
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES pchord (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = pchord.recnum
    linnum  INTEGER NOT NULL,
    prtdsc  TEXT NOT NULL DEFAULT '',            -- (50)
    linqty  DECTEXT NOT NULL DEFAULT '0.0000',
    linprc  DECTEXT NOT NULL DEFAULT '0.0000',
    extttl  DECTEXT NOT NULL DEFAULT '0.00',
    rcvdte  DECTEXT NOT NULL DEFAULT '0.0000',   -- quantity received to date
    cancel  DECTEXT NOT NULL DEFAULT '0.0000',   -- quantity canceled
    cstcde  TEXT REFERENCES cstcde (recnum),
    csttyp  INTEGER REFERENCES csttyp (recnum),
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT,
    UNIQUE (recnum, linnum)
);

-- ---- change orders (6-4-1: prime and subcontract in one record) ---------------------------

CREATE TABLE IF NOT EXISTS prmchg (
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY AUTOINCREMENT,
    chgnum  TEXT NOT NULL,                       -- (20)
    jobnum  INTEGER NOT NULL,
    phsnum  INTEGER,
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    chgtyp  INTEGER,
    status  INTEGER NOT NULL DEFAULT 2 CHECK (status BETWEEN 1 AND 6),
                                                 -- 1 Approved 2 Open 3 Review 4 Disputed
                                                 -- 5 Void 6 Rejected
    reqamt  DECTEXT NOT NULL DEFAULT '0.00',
    appamt  DECTEXT NOT NULL DEFAULT '0.00',
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS pmcgln (              -- prime change order lines
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES prmchg (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = prmchg.recnum
    linnum  INTEGER NOT NULL,
    dscrpt  TEXT NOT NULL DEFAULT '',
    reqprc  DECTEXT NOT NULL DEFAULT '0.00',
    aprprc  DECTEXT NOT NULL DEFAULT '0.00',
    cstcde  TEXT,
    csttyp  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS sbcgln (              -- budget / subcontract change lines
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES prmchg (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = prmchg.recnum
    linnum  INTEGER NOT NULL,
    dscrpt  TEXT NOT NULL DEFAULT '',
    bdgprc  DECTEXT NOT NULL DEFAULT '0.00',
    chghrs  DECTEXT NOT NULL DEFAULT '0.00',
    vndnum  INTEGER,
    vndctc  INTEGER,                             -- subcon.recnum
    ctclin  INTEGER,                             -- sbcnln.linnum
    chgsts  INTEGER,                             -- line status (same codes as prmchg)
    cstcde  TEXT,
    csttyp  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

-- ---- budget -------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS budget (
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY,                 -- job
    lckedt  INTEGER NOT NULL DEFAULT 0,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS bdglin (              -- one line per job / phase / cost code
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT REFERENCES budget (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- job
    phsnum  INTEGER,
    cstcde  TEXT NOT NULL,
    hrsbdg  DECTEXT NOT NULL DEFAULT '0.00',
    matbdg  DECTEXT NOT NULL DEFAULT '0.00',
    labbdg  DECTEXT NOT NULL DEFAULT '0.00',
    eqpbdg  DECTEXT NOT NULL DEFAULT '0.00',
    subbdg  DECTEXT NOT NULL DEFAULT '0.00',
    othbdg  DECTEXT NOT NULL DEFAULT '0.00',
    usrcs6  DECTEXT NOT NULL DEFAULT '0.00',
    usrcs7  DECTEXT NOT NULL DEFAULT '0.00',
    usrcs8  DECTEXT NOT NULL DEFAULT '0.00',
    usrcs9  DECTEXT NOT NULL DEFAULT '0.00',
    ttlbdg  DECTEXT NOT NULL DEFAULT '0.00',
    estunt  DECTEXT NOT NULL DEFAULT '0.0000',
    untcst  DECTEXT NOT NULL DEFAULT '0.0000',
    matorg  DECTEXT NOT NULL DEFAULT '0.00',     -- originals: never altered by change orders
    laborg  DECTEXT NOT NULL DEFAULT '0.00',
    eqporg  DECTEXT NOT NULL DEFAULT '0.00',
    suborg  DECTEXT NOT NULL DEFAULT '0.00',
    othorg  DECTEXT NOT NULL DEFAULT '0.00',
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS bdglin_job_phase_code
    ON bdglin (recnum, IFNULL(phsnum, 0), cstcde);

-- ---- accounts payable ---------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS acpinv (              -- payable invoices
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY AUTOINCREMENT,
    invnum  TEXT NOT NULL,                       -- (20), unique per vendor unless dupchk
    vndnum  INTEGER NOT NULL,
    jobnum  INTEGER,
    phsnum  INTEGER,
    pchord  TEXT,                                -- PO number (20)
    ctcnum  TEXT,                                -- subcontract number (20)
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    invdte  TEXT,
    duedte  TEXT,
    invtyp  INTEGER NOT NULL DEFAULT 1,          -- 1 Contract 2 Memo
    status  INTEGER NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 5),
                                                 -- 1 Open 2 Review 3 Dispute 4 Paid 5 Void
    invttl  DECTEXT NOT NULL DEFAULT '0.00',
    retain  DECTEXT NOT NULL DEFAULT '0.00',
    setpay  DECTEXT NOT NULL DEFAULT '0.00',
    amtpad  DECTEXT NOT NULL DEFAULT '0.00',
    ttlpad  DECTEXT NOT NULL DEFAULT '0.00',
    invbal  DECTEXT NOT NULL DEFAULT '0.00',
    actper  INTEGER,                             -- posting period 0-12
    postyr  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS apivln (              -- payable invoice lines (GL, no cost code)
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES acpinv (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = acpinv.recnum
    linnum  INTEGER NOT NULL,
    prtdsc  TEXT NOT NULL DEFAULT '',
    linqty  DECTEXT NOT NULL DEFAULT '0.0000',
    linprc  DECTEXT NOT NULL DEFAULT '0.0000',
    extttl  DECTEXT NOT NULL DEFAULT '0.00',
    actnum  INTEGER,                             -- GL account
    subact  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

CREATE TABLE IF NOT EXISTS acppmt (              -- payments of payable invoices
    _idnum  TEXT PRIMARY KEY,
    _idref  TEXT NOT NULL REFERENCES acpinv (_idnum) ON DELETE CASCADE,
    recnum  INTEGER NOT NULL,                    -- = acpinv.recnum
    chknum  TEXT,
    chkdte  TEXT,
    amount  DECTEXT NOT NULL DEFAULT '0.00',
    dsctkn  DECTEXT NOT NULL DEFAULT '0.00',     -- discount taken
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);

-- ---- job cost -----------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS jobcst (
    _idnum  TEXT NOT NULL UNIQUE,
    recnum  INTEGER PRIMARY KEY AUTOINCREMENT,
    jobnum  INTEGER NOT NULL,
    phsnum  INTEGER,
    trnnum  TEXT,                                -- (20)
    trndte  TEXT,
    entdte  TEXT,
    dscrpt  TEXT NOT NULL DEFAULT '',            -- (50)
    cstcde  TEXT,
    csttyp  INTEGER,
    cstamt  DECTEXT NOT NULL DEFAULT '0.00',
    csthrs  DECTEXT NOT NULL DEFAULT '0.00',
    vndnum  INTEGER,
    empnum  INTEGER,
    eqpnum  INTEGER,
    payrec  INTEGER,
    srcnum  INTEGER,                             -- -> source (journal)
    actprd  INTEGER,
    postyr  INTEGER,
    status  INTEGER NOT NULL DEFAULT 1,          -- 1 Open 2 Void
    bllsts  INTEGER,
    acrinv  INTEGER,
    lgrrec  INTEGER,
    insdte  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    insusr  TEXT,
    upddte  TEXT,
    updusr  TEXT
);
