/*
 * A SQLite extension that turns on double-quoted string literals in DML for the connection that
 * loads it (SQLITE_DBCONFIG_DQS_DML): "France" is read as a column when one of that name is in
 * scope and as the string 'France' otherwise. better-sqlite3 compiles SQLite with SQLITE_DQS=0;
 * the SQLite of Python's sqlite3 module, which the Spider and BIRD evaluators run, keeps the
 * default (on), and a fifth of Spider's dev queries depend on it.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_extension_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  int on = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 1, &on) != SQLITE_OK || !on) {
    if (error) *error = sqlite3_mprintf("could not enable double-quoted string literals");
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}
