package jobdef

// Error codes, one per row of the Pilot 3 table (pilot/common/errorcodes.py numbering, which the
// PanDA server and monitor interpret). Each code has a Name (the Pilot 3 NAME), a standard
// Message and a ShellExit status; see the ErrorCode methods.
//
// QueueDataError is the Pilot 3 QUEUEDATA code; it is not called QueueData because that name is
// the queue description type.
const (
	GeneralError                   ErrorCode = 1008 // GENERALERROR
	NoLocalSpace                   ErrorCode = 1098 // NOLOCALSPACE
	StageInFailed                  ErrorCode = 1099 // STAGEINFAILED
	ReplicaNotFound                ErrorCode = 1100 // REPLICANOTFOUND
	NoSuchFile                     ErrorCode = 1103 // NOSUCHFILE
	UserDirTooLarge                ErrorCode = 1104 // USERDIRTOOLARGE
	StdoutTooBig                   ErrorCode = 1106 // STDOUTTOOBIG
	SetupFailure                   ErrorCode = 1110 // SETUPFAILURE
	NFSSQLite                      ErrorCode = 1115 // NFSSQLITE
	QueueDataError                 ErrorCode = 1116 // QUEUEDATA
	QueueDataNotOK                 ErrorCode = 1117 // QUEUEDATANOTOK
	OutputFileTooLarge             ErrorCode = 1124 // OUTPUTFILETOOLARGE
	NoStorage                      ErrorCode = 1133 // NOSTORAGE
	StageOutFailed                 ErrorCode = 1137 // STAGEOUTFAILED
	PutMD5Mismatch                 ErrorCode = 1141 // PUTMD5MISMATCH
	ChmodTrf                       ErrorCode = 1143 // CHMODTRF
	PandaKill                      ErrorCode = 1144 // PANDAKILL
	GetMD5Mismatch                 ErrorCode = 1145 // GETMD5MISMATCH
	TrfDownloadFailure             ErrorCode = 1149 // TRFDOWNLOADFAILURE
	LoopingJob                     ErrorCode = 1150 // LOOPINGJOB
	StageInTimeout                 ErrorCode = 1151 // STAGEINTIMEOUT
	StageOutTimeout                ErrorCode = 1152 // STAGEOUTTIMEOUT
	NoProxy                        ErrorCode = 1163 // NOPROXY
	MissingOutputFile              ErrorCode = 1165 // MISSINGOUTPUTFILE
	SizeTooLarge                   ErrorCode = 1168 // SIZETOOLARGE
	GetADMismatch                  ErrorCode = 1171 // GETADMISMATCH
	PutADMismatch                  ErrorCode = 1172 // PUTADMISMATCH
	NoVOMSProxy                    ErrorCode = 1177 // NOVOMSPROXY
	GetGlobusSysErr                ErrorCode = 1180 // GETGLOBUSSYSERR
	PutGlobusSysErr                ErrorCode = 1181 // PUTGLOBUSSYSERR
	NoSoftwareDir                  ErrorCode = 1186 // NOSOFTWAREDIR
	NoPayloadMetadata              ErrorCode = 1187 // NOPAYLOADMETADATA
	LFNTooLong                     ErrorCode = 1190 // LFNTOOLONG
	ZeroFileSize                   ErrorCode = 1191 // ZEROFILESIZE
	MkdirFailed                    ErrorCode = 1199 // MKDIR
	KillSignal                     ErrorCode = 1200 // KILLSIGNAL
	SigTerm                        ErrorCode = 1201 // SIGTERM
	SigQuit                        ErrorCode = 1202 // SIGQUIT
	SigSegv                        ErrorCode = 1203 // SIGSEGV
	SigXCPU                        ErrorCode = 1204 // SIGXCPU
	UserKill                       ErrorCode = 1205 // USERKILL
	SigBus                         ErrorCode = 1206 // SIGBUS
	SigUsr1                        ErrorCode = 1207 // SIGUSR1
	SigInt                         ErrorCode = 1208 // SIGINT
	MissingInstallation            ErrorCode = 1211 // MISSINGINSTALLATION
	PayloadOutOfMemory             ErrorCode = 1212 // PAYLOADOUTOFMEMORY
	ReachedMaxTime                 ErrorCode = 1213 // REACHEDMAXTIME
	UnknownPayloadFailure          ErrorCode = 1220 // UNKNOWNPAYLOADFAILURE
	FileExists                     ErrorCode = 1221 // FILEEXISTS
	BadAlloc                       ErrorCode = 1223 // BADALLOC
	ESRecoverable                  ErrorCode = 1224 // ESRECOVERABLE
	ESFatal                        ErrorCode = 1228 // ESFATAL
	ExecutedCloneJob               ErrorCode = 1234 // EXECUTEDCLONEJOB
	PayloadExceedMaxMem            ErrorCode = 1235 // PAYLOADEXCEEDMAXMEM
	FailedByServer                 ErrorCode = 1236 // FAILEDBYSERVER
	ESNoEvents                     ErrorCode = 1238 // ESNOEVENTS
	MessageHandlingFailure         ErrorCode = 1240 // MESSAGEHANDLINGFAILURE
	ChksumNotSup                   ErrorCode = 1242 // CHKSUMNOTSUP
	NoReleaseFound                 ErrorCode = 1244 // NORELEASEFOUND
	NoUserTarball                  ErrorCode = 1246 // NOUSERTARBALL
	BadXML                         ErrorCode = 1247 // BADXML
	NotImplemented                 ErrorCode = 1300 // NOTIMPLEMENTED
	UnknownException               ErrorCode = 1301 // UNKNOWNEXCEPTION
	ConversionFailure              ErrorCode = 1302 // CONVERSIONFAILURE
	FileHandlingFailure            ErrorCode = 1303 // FILEHANDLINGFAILURE
	PayloadExecutionFailure        ErrorCode = 1305 // PAYLOADEXECUTIONFAILURE
	SingularityGeneralFailure      ErrorCode = 1306 // SINGULARITYGENERALFAILURE
	SingularityNoLoopDevices       ErrorCode = 1307 // SINGULARITYNOLOOPDEVICES
	SingularityBindPointFailure    ErrorCode = 1308 // SINGULARITYBINDPOINTFAILURE
	SingularityImageMountFailure   ErrorCode = 1309 // SINGULARITYIMAGEMOUNTFAILURE
	PayloadExecutionException      ErrorCode = 1310 // PAYLOADEXECUTIONEXCEPTION
	NotDefined                     ErrorCode = 1311 // NOTDEFINED
	NotSameLength                  ErrorCode = 1312 // NOTSAMELENGTH
	NoStorageProtocol              ErrorCode = 1313 // NOSTORAGEPROTOCOL
	UnknownChecksumType            ErrorCode = 1314 // UNKNOWNCHECKSUMTYPE
	UnknownTrfFailure              ErrorCode = 1315 // UNKNOWNTRFFAILURE
	RucioServiceUnavailable        ErrorCode = 1316 // RUCIOSERVICEUNAVAILABLE
	ExceededMaxWaitTime            ErrorCode = 1317 // EXCEEDEDMAXWAITTIME
	CommunicationFailure           ErrorCode = 1318 // COMMUNICATIONFAILURE
	InternalPilotProblem           ErrorCode = 1319 // INTERNALPILOTPROBLEM
	LogFileCreationFailure         ErrorCode = 1320 // LOGFILECREATIONFAILURE
	RucioLocationFailed            ErrorCode = 1321 // RUCIOLOCATIONFAILED
	RucioListReplicasFailed        ErrorCode = 1322 // RUCIOLISTREPLICASFAILED
	UnknownCopytool                ErrorCode = 1323 // UNKNOWNCOPYTOOL
	ServiceNotAvailable            ErrorCode = 1324 // SERVICENOTAVAILABLE
	SingularityNotInstalled        ErrorCode = 1325 // SINGULARITYNOTINSTALLED
	NoReplicas                     ErrorCode = 1326 // NOREPLICAS
	UnreachableNetwork             ErrorCode = 1327 // UNREACHABLENETWORK
	PayloadSigSegv                 ErrorCode = 1328 // PAYLOADSIGSEGV
	NonDeterministicDDM            ErrorCode = 1329 // NONDETERMINISTICDDM
	JSONRetrievalTimeout           ErrorCode = 1330 // JSONRETRIEVALTIMEOUT
	MissingInputFile               ErrorCode = 1331 // MISSINGINPUTFILE
	BlackHole                      ErrorCode = 1332 // BLACKHOLE
	NoRemoteSpace                  ErrorCode = 1333 // NOREMOTESPACE
	SetupFatal                     ErrorCode = 1334 // SETUPFATAL
	MissingUserCode                ErrorCode = 1335 // MISSINGUSERCODE
	JobAlreadyRunning              ErrorCode = 1336 // JOBALREADYRUNNING
	BadMemoryMonitorJSON           ErrorCode = 1337 // BADMEMORYMONITORJSON
	StageInAuthenticationFailure   ErrorCode = 1338 // STAGEINAUTHENTICATIONFAILURE
	DBReleaseFailure               ErrorCode = 1339 // DBRELEASEFAILURE
	SingularityNewUserNamespace    ErrorCode = 1340 // SINGULARITYNEWUSERNAMESPACE
	BadQueueConfiguration          ErrorCode = 1341 // BADQUEUECONFIGURATION
	MiddlewareImportFailure        ErrorCode = 1342 // MIDDLEWAREIMPORTFAILURE
	NoOutputInJobReport            ErrorCode = 1343 // NOOUTPUTINJOBREPORT
	ResourceUnavailable            ErrorCode = 1344 // RESOURCEUNAVAILABLE
	SingularityFailedUserNamespace ErrorCode = 1345 // SINGULARITYFAILEDUSERNAMESPACE
	TransformNotFound              ErrorCode = 1346 // TRANSFORMNOTFOUND
	UnsupportedSL5OS               ErrorCode = 1347 // UNSUPPORTEDSL5OS
	SingularityResourceUnavailable ErrorCode = 1348 // SINGULARITYRESOURCEUNAVAILABLE
	UnrecognizedTrfArguments       ErrorCode = 1349 // UNRECOGNIZEDTRFARGUMENTS
	EmptyOutputFile                ErrorCode = 1350 // EMPTYOUTPUTFILE
	UnrecognizedTrfStderr          ErrorCode = 1351 // UNRECOGNIZEDTRFSTDERR
	StatFileProblem                ErrorCode = 1352 // STATFILEPROBLEM
	NoSuchProcess                  ErrorCode = 1353 // NOSUCHPROCESS
	GeneralCPUCalcProblem          ErrorCode = 1354 // GENERALCPUCALCPROBLEM
	CoreDump                       ErrorCode = 1355 // COREDUMP
	PreprocessFailure              ErrorCode = 1356 // PREPROCESSFAILURE
	PostprocessFailure             ErrorCode = 1357 // POSTPROCESSFAILURE
	MissingReleaseUnpacked         ErrorCode = 1358 // MISSINGRELEASEUNPACKED
	PandaQueueNotActive            ErrorCode = 1359 // PANDAQUEUENOTACTIVE
	ImageNotFound                  ErrorCode = 1360 // IMAGENOTFOUND
	RemoteFileCouldNotBeOpened     ErrorCode = 1361 // REMOTEFILECOULDNOTBEOPENED
	XrdcpError                     ErrorCode = 1362 // XRDCPERROR
	KillPayload                    ErrorCode = 1363 // KILLPAYLOAD
	MissingCredentials             ErrorCode = 1364 // MISSINGCREDENTIALS
	NoCtypes                       ErrorCode = 1365 // NOCTYPES
	ChecksumCalcFailure            ErrorCode = 1366 // CHECKSUMCALCFAILURE
	CommandTimedOut                ErrorCode = 1367 // COMMANDTIMEDOUT
	RemoteFileOpenTimedOut         ErrorCode = 1368 // REMOTEFILEOPENTIMEDOUT
	Frontier                       ErrorCode = 1369 // FRONTIER
	VOMSProxyAboutToExpire         ErrorCode = 1370 // VOMSPROXYABOUTTOEXPIRE
	BadOutputFileName              ErrorCode = 1371 // BADOUTPUTFILENAME
	ApptainerNotInstalled          ErrorCode = 1372 // APPTAINERNOTINSTALLED
	CertificateHasExpired          ErrorCode = 1373 // CERTIFICATEHASEXPIRED
	RemoteFileDictDoesNotExist     ErrorCode = 1374 // REMOTEFILEDICTDOESNOTEXIST
	LeaseTime                      ErrorCode = 1375 // LEASETIME
	LogCreationTimeout             ErrorCode = 1376 // LOGCREATIONTIMEOUT
	CVMFSIsNotAlive                ErrorCode = 1377 // CVMFSISNOTALIVE
	LSetupTimedOut                 ErrorCode = 1378 // LSETUPTIMEDOUT
	Preemption                     ErrorCode = 1379 // PREEMPTION
	ArcProxyFailure                ErrorCode = 1380 // ARCPROXYFAILURE
	ArcProxyLibFailure             ErrorCode = 1381 // ARCPROXYLIBFAILURE
	ProxyTooShort                  ErrorCode = 1382 // PROXYTOOSHORT
	StageOutAuthenticationFailure  ErrorCode = 1383 // STAGEOUTAUTHENTICATIONFAILURE
	QueueNotSetupForContainers     ErrorCode = 1384 // QUEUENOTSETUPFORCONTAINERS
	NoJobsInPanda                  ErrorCode = 1385 // NOJOBSINPANDA
	PandaQueueNotOnline            ErrorCode = 1386 // PANDAQUEUENOTONLINE
)

// codeTable holds name, standard message and shell exit status of every known code, in
// ascending code order. It is read-only (a constant table, never modified).
var codeTable = [...]codeInfo{
	{GeneralError, "GENERALERROR", "unspecified pilot failure; see the batch log", 65},
	{NoLocalSpace, "NOLOCALSPACE", "not enough local disk (less than 2 GB free before a job, 1 GB while running, or inputs larger than free space)", 69},
	{StageInFailed, "STAGEINFAILED", "an input file could not be transferred", 0},
	{ReplicaNotFound, "REPLICANOTFOUND", "no replica of an input file was found (legacy name; Pilot 3 mostly uses 1326)", 0},
	{NoSuchFile, "NOSUCHFILE", "a file or directory that was needed does not exist", 67},
	{UserDirTooLarge, "USERDIRTOOLARGE", "the job work directory grew beyond the allowed size", 0},
	{StdoutTooBig, "STDOUTTOOBIG", "payload stdout or a payload log file exceeded the size limit", 0},
	{SetupFailure, "SETUPFAILURE", "the payload setup step failed", 0},
	{NFSSQLite, "NFSSQLITE", "SQLite locking problem on NFS seen in the payload output", 0},
	{QueueDataError, "QUEUEDATA", "queue description could not be downloaded/resolved", 71},
	{QueueDataNotOK, "QUEUEDATANOTOK", "queue description is invalid", 72},
	{OutputFileTooLarge, "OUTPUTFILETOOLARGE", "an output file is larger than the allowed maximum (500 GB)", 0},
	{NoStorage, "NOSTORAGE", "no destination storage could be determined (no RSE for the activity, unknown RSE name)", 0},
	{StageOutFailed, "STAGEOUTFAILED", "an output or log file could not be transferred", 0},
	{PutMD5Mismatch, "PUTMD5MISMATCH", "md5 checksum mismatch after uploading an output file", 0},
	{ChmodTrf, "CHMODTRF", "the downloaded transformation could not be made executable", 0},
	{PandaKill, "PANDAKILL", "the PanDA server ordered the job to be killed (tobekilled), or the payload was killed after a debug core dump", 0},
	{GetMD5Mismatch, "GETMD5MISMATCH", "md5 checksum mismatch on a downloaded input file", 0},
	{TrfDownloadFailure, "TRFDOWNLOADFAILURE", "the transformation could not be downloaded (bad base URL or download failure)", 0},
	{LoopingJob, "LOOPINGJOB", "the payload did not modify any file for too long and was killed", 0},
	{StageInTimeout, "STAGEINTIMEOUT", "an input transfer timed out", 0},
	{StageOutTimeout, "STAGEOUTTIMEOUT", "an output transfer timed out", 0},
	{NoProxy, "NOPROXY", "the grid proxy is invalid or missing (also: transfer tool reports an expired proxy context)", 68},
	{MissingOutputFile, "MISSINGOUTPUTFILE", "an expected output file does not exist locally", 0},
	{SizeTooLarge, "SIZETOOLARGE", "the total size of the input files exceeds the queue limit", 0},
	{GetADMismatch, "GETADMISMATCH", "adler32 mismatch on a downloaded input file", 0},
	{PutADMismatch, "PUTADMISMATCH", "adler32 mismatch after uploading an output file", 0},
	{NoVOMSProxy, "NOVOMSPROXY", "the VOMS proxy is invalid or too short", 68},
	{GetGlobusSysErr, "GETGLOBUSSYSERR", "Globus system error during stage-in", 0},
	{PutGlobusSysErr, "PUTGLOBUSSYSERR", "Globus system error during stage-out", 0},
	{NoSoftwareDir, "NOSOFTWAREDIR", "the software directory does not exist", 73},
	{NoPayloadMetadata, "NOPAYLOADMETADATA", "the payload did not produce its metadata", 0},
	{LFNTooLong, "LFNTOOLONG", "a file name exceeds 255 characters", 0},
	{ZeroFileSize, "ZEROFILESIZE", "a file to be transferred has size zero", 0},
	{MkdirFailed, "MKDIR", "a directory could not be created", 66},
	{KillSignal, "KILLSIGNAL", "terminated by a kill signal not in the list below (also SIGINT in the job-level mapping)", 137},
	{SigTerm, "SIGTERM", "terminated by SIGTERM (also used when the payload died from a signal without another error)", 143},
	{SigQuit, "SIGQUIT", "terminated by SIGQUIT", 131},
	{SigSegv, "SIGSEGV", "terminated by SIGSEGV", 139},
	{SigXCPU, "SIGXCPU", "terminated by SIGXCPU (CPU time limit)", 152},
	{UserKill, "USERKILL", "reserved: killed by the user (not used by the pilot)", 0},
	{SigBus, "SIGBUS", "terminated by SIGBUS", 135},
	{SigUsr1, "SIGUSR1", "terminated by SIGUSR1", 138},
	{SigInt, "SIGINT", "terminated by SIGINT (used for the pilot exit code)", 130},
	{MissingInstallation, "MISSINGINSTALLATION", "the required software installation is missing", 0},
	{PayloadOutOfMemory, "PAYLOADOUTOFMEMORY", "the payload ran out of memory (kernel OOM messages found)", 0},
	{ReachedMaxTime, "REACHEDMAXTIME", "the pilot reached the batch/queue time limit and aborted the job", 81},
	{UnknownPayloadFailure, "UNKNOWNPAYLOADFAILURE", "the payload failed for an unidentified reason / no payload command could be built", 0},
	{FileExists, "FILEEXISTS", "the destination file already exists", 0},
	{BadAlloc, "BADALLOC", "the transformation failed with std::bad_alloc", 0},
	{ESRecoverable, "ESRECOVERABLE", "event service: recoverable error", 0},
	{ESFatal, "ESFATAL", "event service: fatal error", 0},
	{ExecutedCloneJob, "EXECUTEDCLONEJOB", "a clone of this job was already executed", 0},
	{PayloadExceedMaxMem, "PAYLOADEXCEEDMAXMEM", "the payload used more memory than allowed and was killed", 0},
	{FailedByServer, "FAILEDBYSERVER", "the job was failed by the server", 0},
	{ESNoEvents, "ESNOEVENTS", "event service: no events to process", 0},
	{MessageHandlingFailure, "MESSAGEHANDLINGFAILURE", "failure handling a message from the payload (event service)", 0},
	{ChksumNotSup, "CHKSUMNOTSUP", "the storage does not support checksum queries", 0},
	{NoReleaseFound, "NORELEASEFOUND", "no matching software release found", 0},
	{NoUserTarball, "NOUSERTARBALL", "the user code tarball could not be downloaded from the PanDA server", 0},
	{BadXML, "BADXML", "malformed XML", 0},
	{NotImplemented, "NOTIMPLEMENTED", "a function/class is not implemented", 0},
	{UnknownException, "UNKNOWNEXCEPTION", "an unexpected exception in the pilot", 70},
	{ConversionFailure, "CONVERSIONFAILURE", "data conversion failed", 0},
	{FileHandlingFailure, "FILEHANDLINGFAILURE", "a file operation failed", 0},
	{PayloadExecutionFailure, "PAYLOADEXECUTIONFAILURE", "the payload exited non-zero (or wrote an error report)", 0},
	{SingularityGeneralFailure, "SINGULARITYGENERALFAILURE", "generic apptainer/singularity failure (\"Operation not permitted\")", 0},
	{SingularityNoLoopDevices, "SINGULARITYNOLOOPDEVICES", "apptainer: no loop devices left", 0},
	{SingularityBindPointFailure, "SINGULARITYBINDPOINTFAILURE", "apptainer: a bind mount could not be made", 0},
	{SingularityImageMountFailure, "SINGULARITYIMAGEMOUNTFAILURE", "apptainer: the image could not be mounted", 0},
	{PayloadExecutionException, "PAYLOADEXECUTIONEXCEPTION", "an exception while executing the payload", 0},
	{NotDefined, "NOTDEFINED", "a required value is not defined", 0},
	{NotSameLength, "NOTSAMELENGTH", "lists that must have equal length do not", 0},
	{NoStorageProtocol, "NOSTORAGEPROTOCOL", "no usable protocol defined for the storage endpoint", 0},
	{UnknownChecksumType, "UNKNOWNCHECKSUMTYPE", "checksum type not recognised", 0},
	{UnknownTrfFailure, "UNKNOWNTRFFAILURE", "the transformation failed in an unrecognised way (e.g. exit 251 or -1)", 0},
	{RucioServiceUnavailable, "RUCIOSERVICEUNAVAILABLE", "the Rucio service was unavailable", 0},
	{ExceededMaxWaitTime, "EXCEEDEDMAXWAITTIME", "a wait limit was exceeded (e.g. no successful heartbeat for 3 h, threads not finishing)", 0},
	{CommunicationFailure, "COMMUNICATIONFAILURE", "communication with the PanDA server failed", 79},
	{InternalPilotProblem, "INTERNALPILOTPROBLEM", "an internal pilot inconsistency", 0},
	{LogFileCreationFailure, "LOGFILECREATIONFAILURE", "the log tarball could not be created", 0},
	{RucioLocationFailed, "RUCIOLOCATIONFAILED", "the client location for Rucio could not be determined", 0},
	{RucioListReplicasFailed, "RUCIOLISTREPLICASFAILED", "Rucio replica listing failed", 0},
	{UnknownCopytool, "UNKNOWNCOPYTOOL", "the configured copytool is unknown / none configured for the activity", 0},
	{ServiceNotAvailable, "SERVICENOTAVAILABLE", "a storage/transfer service reported \"not available\"", 0},
	{SingularityNotInstalled, "SINGULARITYNOTINSTALLED", "singularity is not installed", 0},
	{NoReplicas, "NOREPLICAS", "no suitable replica found for an input file", 0},
	{UnreachableNetwork, "UNREACHABLENETWORK", "network unreachable during stage-in", 0},
	{PayloadSigSegv, "PAYLOADSIGSEGV", "the payload reported a segmentation fault", 0},
	{NonDeterministicDDM, "NONDETERMINISTICDDM", "cannot build a destination URL for a non-deterministic RSE", 0},
	{JSONRetrievalTimeout, "JSONRETRIEVALTIMEOUT", "reading/downloading JSON timed out", 74},
	{MissingInputFile, "MISSINGINPUTFILE", "the input file is missing on the storage element", 77},
	{BlackHole, "BLACKHOLE", "file-system \"black hole\" (Python modules disappeared)", 75},
	{NoRemoteSpace, "NOREMOTESPACE", "no space left on the remote storage", 0},
	{SetupFatal, "SETUPFATAL", "the payload setup failed fatally", 0},
	{MissingUserCode, "MISSINGUSERCODE", "the user code is not available on the PanDA server", 0},
	{JobAlreadyRunning, "JOBALREADYRUNNING", "the job is already running elsewhere", 0},
	{BadMemoryMonitorJSON, "BADMEMORYMONITORJSON", "the memory monitor output could not be read", 0},
	{StageInAuthenticationFailure, "STAGEINAUTHENTICATIONFAILURE", "authentication failed during stage-in", 0},
	{DBReleaseFailure, "DBRELEASEFAILURE", "local DBRelease handling failed (ATLAS)", 0},
	{SingularityNewUserNamespace, "SINGULARITYNEWUSERNAMESPACE", "apptainer could not start the NEWUSER namespace runtime", 0},
	{BadQueueConfiguration, "BADQUEUECONFIGURATION", "the queue configuration is inconsistent (e.g. direct access with the mv copytool)", 0},
	{MiddlewareImportFailure, "MIDDLEWAREIMPORTFAILURE", "middleware (e.g. Rucio client) could not be imported", 76},
	{NoOutputInJobReport, "NOOUTPUTINJOBREPORT", "the job report lists no outputs", 0},
	{ResourceUnavailable, "RESOURCEUNAVAILABLE", "\"resource temporarily unavailable\" (e.g. fork limits)", 0},
	{SingularityFailedUserNamespace, "SINGULARITYFAILEDUSERNAMESPACE", "apptainer could not create a user namespace", 0},
	{TransformNotFound, "TRANSFORMNOTFOUND", "the transformation was not found", 0},
	{UnsupportedSL5OS, "UNSUPPORTEDSL5OS", "unsupported SL5 operating system", 0},
	{SingularityResourceUnavailable, "SINGULARITYRESOURCEUNAVAILABLE", "apptainer: resource temporarily unavailable", 0},
	{UnrecognizedTrfArguments, "UNRECOGNIZEDTRFARGUMENTS", "the transformation rejected its arguments", 0},
	{EmptyOutputFile, "EMPTYOUTPUTFILE", "an output file has size zero", 0},
	{UnrecognizedTrfStderr, "UNRECOGNIZEDTRFSTDERR", "fatal, unrecognised error in the transformation stderr", 0},
	{StatFileProblem, "STATFILEPROBLEM", "/proc stat file unreadable when measuring CPU time", 0},
	{NoSuchProcess, "NOSUCHPROCESS", "process vanished while measuring CPU time", 0},
	{GeneralCPUCalcProblem, "GENERALCPUCALCPROBLEM", "other CPU time measurement problem", 0},
	{CoreDump, "COREDUMP", "a core dump of the payload was found", 0},
	{PreprocessFailure, "PREPROCESSFAILURE", "the pre-process command failed", 0},
	{PostprocessFailure, "POSTPROCESSFAILURE", "the post-process command failed", 0},
	{MissingReleaseUnpacked, "MISSINGRELEASEUNPACKED", "release setup missing in an unpacked container", 0},
	{PandaQueueNotActive, "PANDAQUEUENOTACTIVE", "the queue's state is not ACTIVE; the pilot exits at start", 78},
	{ImageNotFound, "IMAGENOTFOUND", "container image not found", 0},
	{RemoteFileCouldNotBeOpened, "REMOTEFILECOULDNOTBEOPENED", "remote (direct-access) input could not be opened", 0},
	{XrdcpError, "XRDCPERROR", "xrdcp reported a server error / could not open the file", 0},
	{KillPayload, "KILLPAYLOAD", "not a failure: an external driver (Raythena) asked to stop the payload via a kill file", 0},
	{MissingCredentials, "MISSINGCREDENTIALS", "credentials for an S3 transfer are missing", 0},
	{NoCtypes, "NOCTYPES", "the Python ctypes module is unavailable", 0},
	{ChecksumCalcFailure, "CHECKSUMCALCFAILURE", "the local checksum could not be computed", 0},
	{CommandTimedOut, "COMMANDTIMEDOUT", "an executed command timed out", 0},
	{RemoteFileOpenTimedOut, "REMOTEFILEOPENTIMEDOUT", "the remote-file-open test timed out", 0},
	{Frontier, "FRONTIER", "Frontier (conditions DB) error reported by the payload", 0},
	{VOMSProxyAboutToExpire, "VOMSPROXYABOUTTOEXPIRE", "internal: the VOMS proxy is about to expire, triggers a proxy download", 0},
	{BadOutputFileName, "BADOUTPUTFILENAME", "an output file name contains illegal characters", 0},
	{ApptainerNotInstalled, "APPTAINERNOTINSTALLED", "apptainer is not installed", 0},
	{CertificateHasExpired, "CERTIFICATEHASEXPIRED", "the certificate/proxy has expired", 68},
	{RemoteFileDictDoesNotExist, "REMOTEFILEDICTDOESNOTEXIST", "the remote-file-open result file is missing", 0},
	{LeaseTime, "LEASETIME", "internal (stager workflow): lease time is over", 0},
	{LogCreationTimeout, "LOGCREATIONTIMEOUT", "creating the log tarball timed out", 0},
	{CVMFSIsNotAlive, "CVMFSISNOTALIVE", "CVMFS is not responding; the pilot exits at start", 64},
	{LSetupTimedOut, "LSETUPTIMEDOUT", "lsetup timed out during the remote-file-open test", 0},
	{Preemption, "PREEMPTION", "the job was preempted (SIGTERM on Kubernetes is reported as this)", 0},
	{ArcProxyFailure, "ARCPROXYFAILURE", "arcproxy failed", 0},
	{ArcProxyLibFailure, "ARCPROXYLIBFAILURE", "arcproxy could not load its shared libraries (currently ignored)", 0},
	{ProxyTooShort, "PROXYTOOSHORT", "the proxy lifetime is too short to start a job", 80},
	{StageOutAuthenticationFailure, "STAGEOUTAUTHENTICATIONFAILURE", "authentication failed during stage-out", 0},
	{QueueNotSetupForContainers, "QUEUENOTSETUPFORCONTAINERS", "the job needs a container but the queue has no container_type for the pilot", 0},
	{NoJobsInPanda, "NOJOBSINPANDA", "internal: repeated \"no jobs\" on an HPC queue", 82},
	{PandaQueueNotOnline, "PANDAQUEUENOTONLINE", "the queue's status is offline; the pilot exits at start", 83},
}
