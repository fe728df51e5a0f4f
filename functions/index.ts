/**
 * The Functions app's entry (package.json "main"): importing each workflow registers its triggers,
 * orchestrators and activities with the v4 programming model. The local host loads this same file.
 */
import functions from '@azure/functions';
import './backupOrchestrators.js';
import './backupActivities.js';
import './backupTriggers.js';
import './restoreOrchestrator.js';
import './restoreActivities.js';
import './restoreTriggers.js';
import './snapshots.js';
import './downloads.js';
import './downloadOrchestrator.js';
import './downloadActivities.js';
import './downloadTriggers.js';
import './maintenanceOrchestrator.js';
import './maintenanceActivities.js';
import './maintenanceTriggers.js';
import './search.js';
import './compare.js';
import './restorePreview.js';
import './dashboard.js';
import './portal.js';
import './audit.js';
import './me.js';

// Downloads stream their files (an EML, an MBOX or ZIP of any size) instead of buffering them (Functions host
// 4.28+). Set before the worker's start-up ends, which is after this module has run.
functions.app.setup({ enableHttpStream: true });
