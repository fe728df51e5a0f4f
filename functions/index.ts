/**
 * The Functions app's entry (package.json "main"): importing each workflow registers its triggers,
 * orchestrators and activities with the v4 programming model. The local host loads this same file.
 */
import './backupOrchestrators.js';
import './backupActivities.js';
import './backupTriggers.js';
import './restoreOrchestrator.js';
import './restoreActivities.js';
import './restoreTriggers.js';
import './snapshots.js';
import './maintenanceOrchestrator.js';
import './maintenanceActivities.js';
import './maintenanceTriggers.js';
import './search.js';
import './compare.js';
import './restorePreview.js';
import './dashboard.js';
import './portal.js';
import './audit.js';
