@echo off
rem Windows twin of paket.sh (only Linux is tested here): runs Paket with the machine's own NuGet feed, so no
rem file in this repository names a registry. MSBuild calls it through PaketExePath (Directory.Build.props).
setlocal
set "root=%~dp0.."
if not defined NUGET_SOURCE for /f "tokens=2" %%s in ('dotnet nuget list source --format Short ^| findstr /b E') do if not defined NUGET_SOURCE set "NUGET_SOURCE=%%s"
rem Several projects may restore tools at once on a fresh machine; retry on collisions.
for /l %%i in (1,1,5) do dotnet tool restore >nul 2>&1 && goto run || timeout /t %%i /nobreak >nul
:run
dotnet paket %*
set status=%errorlevel%
rem paket install/update/add write the expanded feed into paket.lock: put the placeholder back.
if exist "%root%\paket.lock" if defined NUGET_SOURCE powershell -NoProfile -Command "$f = '%root%\paket.lock'; [IO.File]::WriteAllText($f, [IO.File]::ReadAllText($f).Replace('remote: %NUGET_SOURCE%', 'remote: %%NUGET_SOURCE%%'))"
exit /b %status%
